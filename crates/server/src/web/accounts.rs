//! Administration of one account: its roles (granted in the ledger), a new password (made
//! here and shown once), disabling it, its live sessions (ended together) and its API tokens
//! (revoked one by one). Administrators only: the app decides.

use super::i18n::Lang;
use super::settings::token_list;
use super::{Viewer, error_page, page, redirect, refused_origin};
use crate::auth::same_origin;
use crate::{ServerState, blocking};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use valuetree_app::accounts::{AccountView, SessionView, TokenView, random_password};
use valuetree_core::domain::Role;

/// What a change made, shown once at the top of the page.
#[derive(Default)]
pub(crate) struct Done {
    pub message: Option<String>,
    /// A password made for the account, shown this once.
    pub password: Option<String>,
}

fn when(text: &str) -> String {
    text.get(..16).unwrap_or(text).replace('T', " ")
}

fn account_markup(
    lang: Lang,
    nav: super::Nav,
    account: &AccountView,
    sessions: &[SessionView],
    tokens: &[TokenView],
    done: &Done,
) -> Markup {
    let base = format!("/admin/accounts/{}", account.username);
    page(
        lang,
        &account.username,
        nav,
        html! {
            p { a href="/admin#accounts" { (lang.t("admin-back")) } }
            h1 { (account.username) }
            @if let Some(message) = &done.message { p class="done" role="status" { (message) } }
            @if let Some(password) = &done.password {
                p role="status" { (lang.t("admin-password-made")) }
                p { code class="secret" id="new-password" { (password) } }
            }
            p {
                @match &account.person { Some(p) => a href={ "/people/" (p.person_id) } { (p.name) " (" (p.person_id) ")" }, None => (lang.t("admin-no-person")) }
                " · " (lang.t_with("admin-created", &[("date", when(&account.created_at).into())]))
                @if account.disabled { " · " strong { (lang.t("admin-disabled")) } }
                @if !account.has_password { " · " (lang.t("admin-no-password")) }
            }
            section aria-labelledby="roles" {
                h2 id="roles" { (lang.t("admin-roles")) }
                p class="help" { (lang.t(if account.person.is_some() { "admin-roles-help" } else { "admin-service-roles-help" })) }
                ul {
                    @for role in [Role::Hr, Role::Admin] {
                        @let held = account.roles.contains(&role);
                        li {
                            (role.as_str()) ": " (lang.t(if held { "admin-role-held" } else { "admin-role-not-held" }))
                            @if account.person.is_some() {
                                " "
                                form method="post" action={ (base) "/roles" } class="inline" {
                                    input type="hidden" name="role" value=(role.as_str());
                                    input type="hidden" name="grant" value=(if held { "false" } else { "true" });
                                    button type="submit" { (lang.t(if held { "admin-revoke" } else { "admin-grant" })) }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="access" {
                h2 id="access" { (lang.t("admin-access")) }
                div class="row" {
                    form method="post" action={ (base) "/password" } class="inline" {
                        button type="submit" { (lang.t("admin-make-password")) }
                    }
                    form method="post" action={ (base) "/disabled" } class="inline" {
                        input type="hidden" name="disabled" value=(if account.disabled { "false" } else { "true" });
                        button type="submit" { (lang.t(if account.disabled { "admin-enable" } else { "admin-disable" })) }
                    }
                }
            }
            section aria-labelledby="sessions" {
                h2 id="sessions" { (lang.t("admin-sessions")) }
                @if sessions.is_empty() {
                    p class="empty" { (lang.t("admin-no-sessions")) }
                } @else {
                    ul { @for s in sessions { li { (lang.t_with("admin-session-line", &[("created", when(&s.created_at).into()), ("seen", when(&s.last_seen).into())])) } } }
                    form method="post" action={ (base) "/sessions" } {
                        button type="submit" { (lang.t("admin-end-sessions")) }
                    }
                }
            }
            section aria-labelledby="tokens" {
                h2 id="tokens" { (lang.t("settings-tokens")) }
                (token_list(lang, tokens, &format!("{base}/tokens")))
            }
        },
    )
}

pub(crate) async fn render(
    state: &ServerState,
    viewer: &Viewer,
    username: String,
    status: StatusCode,
    done: Done,
) -> Response {
    let actor = viewer.actor.clone();
    let found = blocking(state, move |app| {
        Ok((
            app.account(&actor, &username)?,
            app.sessions(&actor, &username)?,
            app.tokens(&actor, &username)?,
        ))
    })
    .await;
    match found {
        Ok((account, sessions, tokens)) => (
            status,
            account_markup(
                viewer.lang,
                viewer.nav(),
                &account,
                &sessions,
                &tokens,
                &done,
            ),
        )
            .into_response(),
        Err(e) => error_page(viewer.lang, e),
    }
}

/// `GET /admin/accounts/{username}`.
pub async fn account_page(
    State(state): State<ServerState>,
    viewer: Viewer,
    Path(username): Path<String>,
) -> Response {
    render(&state, &viewer, username, StatusCode::OK, Done::default()).await
}

#[derive(Deserialize, Default)]
pub struct ChangeForm {
    #[serde(default)]
    role: String,
    #[serde(default)]
    grant: String,
    #[serde(default)]
    disabled: String,
}

/// `POST /admin/accounts/{username}/{roles|password|disabled|sessions}`.
pub async fn change(
    State(state): State<ServerState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path((username, what)): Path<(String, String)>,
    axum::Form(form): axum::Form<ChangeForm>,
) -> Response {
    let lang = viewer.lang;
    if !same_origin(&headers, &state) {
        return refused_origin(lang);
    }
    let actor = viewer.actor.clone();
    let name = username.clone();
    let done = blocking(&state, move |app| {
        let account = app.account(&actor, &name)?;
        match what.as_str() {
            "roles" => {
                let role: Role =
                    form.role
                        .parse()
                        .map_err(|e: valuetree_core::domain::UnknownValue| {
                            valuetree_app::AppError::rejected(
                                "role",
                                Some(&form.role),
                                e.to_string(),
                            )
                        })?;
                let person = account.person.as_ref().map(|p| p.person_id.clone()).ok_or_else(|| {
                    valuetree_app::AppError::rejected(
                        "role",
                        None,
                        "a service account's roles are set when it is made (`valuetree user add`)",
                    )
                })?;
                if form.grant == "true" {
                    app.grant_role(&actor, &person, role)?;
                } else {
                    app.revoke_role(&actor, &person, role)?;
                }
                Ok(Done {
                    message: Some(lang.t("admin-roles-changed")),
                    password: None,
                })
            }
            "password" => {
                let password = random_password()?;
                app.set_password(&actor, &name, &password, None)?;
                Ok(Done {
                    message: None,
                    password: Some(password),
                })
            }
            "disabled" => {
                let disabled = form.disabled == "true";
                app.set_account_disabled(&actor, &name, disabled)?;
                Ok(Done {
                    message: Some(lang.t(if disabled {
                        "admin-was-disabled"
                    } else {
                        "admin-was-enabled"
                    })),
                    password: None,
                })
            }
            "sessions" => {
                app.end_sessions(&actor, &name)?;
                Ok(Done {
                    message: Some(lang.t("admin-sessions-ended")),
                    password: None,
                })
            }
            other => Err(valuetree_app::AppError::not_found(
                format!("no change {other}"),
                "",
            )),
        }
    })
    .await;
    match done {
        Ok(done) => render(&state, &viewer, username, StatusCode::OK, done).await,
        Err(e) => error_page(lang, e),
    }
}

/// `POST /admin/accounts/{username}/tokens/{token_id}/revoke`.
pub async fn revoke_token(
    State(state): State<ServerState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path((username, token_id)): Path<(String, String)>,
) -> Response {
    if !same_origin(&headers, &state) {
        return refused_origin(viewer.lang);
    }
    let actor = viewer.actor.clone();
    let name = username.clone();
    match blocking(&state, move |app| {
        app.revoke_token(&actor, &name, &token_id)
    })
    .await
    {
        Ok(()) => redirect(&format!("/admin/accounts/{username}#tokens")),
        Err(e) => error_page(viewer.lang, e),
    }
}
