//! Administration: CSV imports by upload (whole or nothing, every bad row listed), the
//! ledger's head, the accounts. Administrators only (the app decides).

use super::i18n::Lang;
use super::{Viewer, error_page, page, refused_origin};
use crate::auth::same_origin;
use crate::error::ApiError;
use crate::{ServerState, blocking};
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use valuetree_app::accounts::{AccountView, NewAccount, random_password};
use valuetree_app::commands::ledger::VerifyView;
use valuetree_core::domain::Role;
use valuetree_exchange::Kind;
use valuetree_store::{Head, ImportSummary};

/// A row an import refused: the file's line, the field, why.
struct BadRow {
    line: String,
    field: String,
    reason: String,
}

enum Outcome {
    None,
    Imported(ImportSummary),
    Refused(Vec<BadRow>),
    Problem(String),
    /// An account made, with the password made for it (shown once).
    AccountMade {
        username: String,
        password: String,
    },
    /// The add-account form refused: what was typed and why.
    AccountRefused {
        typed: AccountForm,
        message: String,
    },
    Verified(VerifyView),
}

fn admin_markup(
    lang: Lang,
    nav: super::Nav,
    accounts: &[AccountView],
    head: Option<&Head>,
    outcome: &Outcome,
) -> Markup {
    page(
        lang,
        &lang.t("admin-title"),
        nav,
        html! {
            h1 { (lang.t("admin-title")) }
            section aria-labelledby="import" {
                h2 id="import" { (lang.t("admin-import")) }
                p class="help" { (lang.t("admin-import-help")) }
                @match outcome {
                    Outcome::None | Outcome::AccountMade { .. } | Outcome::AccountRefused { .. } | Outcome::Verified(_) => {},
                    Outcome::Imported(summary) => p class="done" role="status" { (lang.t_with("admin-imported", &[
                        ("rows", summary.rows.into()),
                        ("events", summary.events.into()),
                        ("unchanged", summary.unchanged.into()),
                    ])) },
                    Outcome::Problem(message) => p class="error" role="alert" { (message) },
                    Outcome::Refused(rows) => {
                        p class="error" role="alert" { (lang.t("admin-rejected")) }
                        div class="scroll" tabindex="0" role="region" aria-label=(lang.t("admin-rejected")) {
                            table class="bad-rows" {
                                thead { tr {
                                    th scope="col" { (lang.t("admin-line")) }
                                    th scope="col" { (lang.t("admin-field")) }
                                    th scope="col" { (lang.t("admin-reason")) }
                                } }
                                tbody { @for row in rows { tr { td { (row.line) } td { (row.field) } td { (row.reason) } } } }
                            }
                        }
                    },
                }
                form method="post" action="/admin/import" enctype="multipart/form-data" class="stack" {
                    label for="kind" { (lang.t("admin-kind")) }
                    select id="kind" name="kind" {
                        @for kind in Kind::ALL { option value=(kind.to_string()) { (kind.file_name()) } }
                    }
                    label for="file" { (lang.t("admin-file")) }
                    input id="file" name="file" type="file" accept=".csv,text/csv" required;
                    button type="submit" { (lang.t("admin-import-submit")) }
                }
            }
            section aria-labelledby="ledger" {
                h2 id="ledger" { (lang.t("admin-head")) }
                @if let Some(head) = head {
                    p { (lang.t_with("admin-head-line", &[("seq", head.seq.into()), ("hash", head.hash.clone().into())])) }
                }
                @if let Outcome::Verified(report) = outcome {
                    @if report.holds() {
                        p class="done" role="status" id="verified" { (lang.t_with("admin-verified", &[("events", report.events.into())])) }
                    } @else {
                        div role="alert" id="verified" class="error" {
                            @if let Some(f) = &report.failure { p { (lang.t_with("admin-chain-broken", &[("seq", f.seq.into()), ("reason", f.reason.clone().into())])) } }
                            @for m in report.projection_mismatches.iter().flatten() { p { (m) } }
                            p { (lang.t("admin-verify-failed-help")) }
                        }
                    }
                }
                form method="post" action="/admin/verify" {
                    button type="submit" { (lang.t("admin-verify")) }
                }
                p class="help" { (lang.t("admin-verify-help")) }
            }
            section aria-labelledby="accounts" {
                h2 id="accounts" { (lang.t("admin-accounts")) }
                @match outcome {
                    Outcome::AccountMade { username, password } => {
                        p class="done" role="status" { (lang.t_with("admin-account-made", &[("username", username.clone().into())])) }
                        p { code class="secret" id="new-password" { (password) } }
                    },
                    _ => {},
                }
                @let (typed, refused) = match outcome {
                    Outcome::AccountRefused { typed, message } => (typed.clone(), Some(message.as_str())),
                    _ => (AccountForm::default(), None),
                };
                ul class="accounts" {
                    @for a in accounts {
                        li {
                            strong { a href={ "/admin/accounts/" (a.username) } { (a.username) } } " · "
                            @match &a.person { Some(p) => a href={ "/people/" (p.person_id) } { (p.name) }, None => (lang.t("admin-no-person")) }
                            @if !a.roles.is_empty() { " · " (a.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")) }
                            @if a.disabled { " · " (lang.t("admin-disabled")) }
                        }
                    }
                }
                h3 { (lang.t("admin-add-account")) }
                form method="post" action="/admin/accounts" class="stack" {
                    @if let Some(message) = refused { p class="error" role="alert" id="account-error" { (message) } }
                    label for="new-username" { (lang.t("admin-username")) }
                    input id="new-username" name="username" type="text" value=(typed.username) required;
                    label for="new-person" { (lang.t("admin-person-id")) }
                    input id="new-person" name="person_id" type="text" value=(typed.person_id) aria-describedby="new-person-help";
                    p class="help" id="new-person-help" { (lang.t("admin-person-id-help")) }
                    label for="new-role" { (lang.t("admin-role")) }
                    select id="new-role" name="role" {
                        option value="" { (lang.t("admin-role-none")) }
                        @for role in [Role::Hr, Role::Admin] { option value=(role.as_str()) selected[typed.role == role.as_str()] { (role.as_str()) } }
                    }
                    button type="submit" { (lang.t("admin-add-submit")) }
                }
            }
        },
    )
}

async fn render(
    state: &ServerState,
    viewer: &Viewer,
    status: StatusCode,
    outcome: Outcome,
) -> Response {
    let actor = viewer.actor.clone();
    match blocking(state, move |app| {
        Ok((app.accounts(&actor)?, app.head(&actor)?))
    })
    .await
    {
        Ok((accounts, head)) => (
            status,
            admin_markup(
                viewer.lang,
                viewer.nav(),
                &accounts,
                head.as_ref(),
                &outcome,
            ),
        )
            .into_response(),
        Err(e) => error_page(viewer.lang, e),
    }
}

/// `GET /admin`.
pub async fn admin_page(State(state): State<ServerState>, viewer: Viewer) -> Response {
    render(&state, &viewer, StatusCode::OK, Outcome::None).await
}

/// The rows an API error names (`details.fields`), for the table.
fn bad_rows(error: &ApiError) -> Vec<BadRow> {
    error.details["fields"]
        .as_array()
        .map(|fields| {
            fields
                .iter()
                .map(|f| BadRow {
                    line: f["line"]
                        .as_u64()
                        .map(|l| l.to_string())
                        .unwrap_or_default(),
                    field: f["field"].as_str().unwrap_or_default().to_string(),
                    reason: f["reason"].as_str().unwrap_or_default().to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The upload's `kind` and `file` fields; a broken upload says what broke.
async fn read_form(form: &mut Multipart) -> Result<(Option<String>, Option<Vec<u8>>), String> {
    let (mut kind, mut file) = (None, None);
    while let Some(field) = form.next_field().await.map_err(|e| e.body_text())? {
        let name = field.name().unwrap_or_default().to_string();
        let bytes = field.bytes().await.map_err(|e| e.body_text())?;
        match name.as_str() {
            "kind" => kind = Some(String::from_utf8_lossy(&bytes).trim().to_string()),
            "file" => file = Some(bytes.to_vec()),
            _ => {}
        }
    }
    Ok((kind, file))
}

/// `POST /admin/import`: one CSV file of one kind, whole or not at all.
pub async fn import(
    State(state): State<ServerState>,
    headers: HeaderMap,
    viewer: Viewer,
    mut form: Multipart,
) -> Response {
    let lang = viewer.lang;
    if !same_origin(&headers, &state) {
        return refused_origin(lang);
    }
    // Only administrators get as far as reading the file.
    let actor = viewer.actor.clone();
    if let Err(e) = blocking(&state, move |app| app.accounts(&actor).map(|_| ())).await {
        return error_page(lang, e);
    }
    let (kind, file) = match read_form(&mut form).await {
        Ok(fields) => fields,
        Err(message) => {
            return render(
                &state,
                &viewer,
                StatusCode::BAD_REQUEST,
                Outcome::Problem(message),
            )
            .await;
        }
    };
    let kind = match kind.unwrap_or_default().parse::<Kind>() {
        Ok(kind) => kind,
        Err(e) => {
            return render(
                &state,
                &viewer,
                StatusCode::BAD_REQUEST,
                Outcome::Problem(e),
            )
            .await;
        }
    };
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        return render(
            &state,
            &viewer,
            StatusCode::BAD_REQUEST,
            Outcome::Problem(lang.t("admin-no-file")),
        )
        .await;
    };
    // The rows that parse are checked too, so that every bad row is listed at once.
    let source = match valuetree_exchange::parse_csv_rows(kind, file.as_slice()) {
        Ok((batch, errors)) if errors.is_empty() => valuetree_store::ImportSource::Whole(batch),
        Ok((batch, errors)) => valuetree_store::ImportSource::Partly(batch, errors),
        Err(errors) => {
            let rows = errors
                .iter()
                .take(valuetree_store::MAX_LISTED_ERRORS)
                .map(|e| BadRow {
                    line: e.line.to_string(),
                    field: e.column.clone().unwrap_or_default(),
                    reason: e.reason.clone(),
                })
                .collect();
            return render(
                &state,
                &viewer,
                StatusCode::UNPROCESSABLE_ENTITY,
                Outcome::Refused(rows),
            )
            .await;
        }
    };
    let actor = viewer.actor.clone();
    let name = kind.file_name();
    let imported = blocking(&state, move |app| {
        app.import_files(&actor, vec![(name, source)], |_| {})
    })
    .await;
    match imported {
        Ok(summary) => render(&state, &viewer, StatusCode::OK, Outcome::Imported(summary)).await,
        Err(e) if !bad_rows(&e).is_empty() => {
            render(&state, &viewer, e.status, Outcome::Refused(bad_rows(&e))).await
        }
        Err(e) => render(&state, &viewer, e.status, Outcome::Problem(e.message)).await,
    }
}

#[derive(Deserialize, Default, Clone)]
pub struct AccountForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    person_id: String,
    #[serde(default)]
    role: String,
}

/// `POST /admin/accounts`: makes an account (a person's, or a service account's without a
/// person) with a password made here and shown once.
pub async fn add_account(
    State(state): State<ServerState>,
    headers: HeaderMap,
    viewer: Viewer,
    axum::Form(form): axum::Form<AccountForm>,
) -> Response {
    if !same_origin(&headers, &state) {
        return refused_origin(viewer.lang);
    }
    let actor = viewer.actor.clone();
    let typed = form.clone();
    let made = blocking(&state, move |app| {
        let roles = match form.role.trim() {
            "" => Vec::new(),
            role => vec![role.parse::<Role>().map_err(|e| {
                valuetree_app::AppError::rejected("role", Some(role), e.to_string())
            })?],
        };
        let person_id = Some(form.person_id.trim().to_string()).filter(|p| !p.is_empty());
        let account = app.add_account(
            &actor,
            NewAccount {
                username: form.username.trim().to_string(),
                person_id,
                roles,
                demo: false,
            },
        )?;
        let password = random_password()?;
        app.set_password(&actor, &account.username, &password, None)?;
        Ok((account.username, password))
    })
    .await;
    match made {
        Ok((username, password)) => {
            render(
                &state,
                &viewer,
                StatusCode::OK,
                Outcome::AccountMade { username, password },
            )
            .await
        }
        Err(e) if e.status == StatusCode::FORBIDDEN || e.status == StatusCode::UNAUTHORIZED => {
            error_page(viewer.lang, e)
        }
        Err(e) => {
            let message = e.message.clone();
            render(
                &state,
                &viewer,
                e.status,
                Outcome::AccountRefused { typed, message },
            )
            .await
        }
    }
}

/// `POST /admin/verify`: checks the hash chain and that the tables equal a replay.
pub async fn verify(
    State(state): State<ServerState>,
    headers: HeaderMap,
    viewer: Viewer,
) -> Response {
    if !same_origin(&headers, &state) {
        return refused_origin(viewer.lang);
    }
    let actor = viewer.actor.clone();
    match blocking(&state, move |app| {
        app.verify(&actor, None, false, &mut |_| {})
    })
    .await
    {
        Ok(report) => render(&state, &viewer, StatusCode::OK, Outcome::Verified(report)).await,
        Err(e) => error_page(viewer.lang, e),
    }
}
