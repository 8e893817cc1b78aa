//! My settings: the language, my password, my API tokens (made, shown once, revoked).

use super::i18n::Lang;
use super::{ClientAddress, Viewer, error_page, page, redirect, refused_origin};
use crate::auth::same_origin;
use crate::{ServerState, blocking};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use valuetree_app::accounts::{TokenScope, TokenView};

/// What the page says after a change, or what went wrong and where.
#[derive(Default)]
struct Notice {
    done: Option<String>,
    /// (field, message) of a refusal.
    problem: Option<(&'static str, String)>,
    new_token: Option<String>,
}

fn scope_label(lang: Lang, scope: TokenScope) -> String {
    lang.t(match scope {
        TokenScope::Read => "settings-scope-read",
        TokenScope::Write => "settings-scope-write",
    })
}

fn settings_markup(
    lang: Lang,
    nav: super::Nav,
    chosen: Option<&str>,
    tokens: &[TokenView],
    notice: &Notice,
) -> Markup {
    let problem_for = |field: &str| {
        notice
            .problem
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.clone())
    };
    page(
        lang,
        &lang.t("settings-title"),
        nav,
        html! {
            h1 { (lang.t("settings-title")) }
            @if let Some(done) = &notice.done { p class="done" role="status" { (done) } }
            section aria-labelledby="language" {
                h2 id="language" { (lang.t("settings-language")) }
                p class="help" { (lang.t("settings-language-help")) }
                form method="post" action="/settings/language" class="stack" {
                    fieldset {
                        legend { (lang.t("settings-language")) }
                        @for (tag, label, attr) in [("", lang.t("settings-language-browser"), None), ("en", "English".to_string(), Some("en")), ("zh-CN", "中文".to_string(), Some("zh-CN"))] {
                            label class="check" lang=[attr] {
                                input type="radio" name="language" value=(tag) checked[chosen.unwrap_or("") == tag];
                                " " (label)
                            }
                        }
                    }
                    button type="submit" { (lang.t("settings-language-save")) }
                }
            }
            section aria-labelledby="password" {
                h2 id="password" { (lang.t("settings-password")) }
                form method="post" action="/settings/password" class="stack" {
                    label for="current_password" { (lang.t("settings-current")) }
                    input id="current_password" name="current_password" type="password" autocomplete="current-password" required
                        aria-describedby=[problem_for("current_password").map(|_| "current_password-error")];
                    @if let Some(m) = problem_for("current_password") { p class="error" id="current_password-error" role="alert" { (m) } }
                    label for="new_password" { (lang.t("settings-new")) }
                    input id="new_password" name="new_password" type="password" autocomplete="new-password" required
                        aria-describedby=[problem_for("new_password").map(|_| "new_password-error")];
                    @if let Some(m) = problem_for("new_password") { p class="error" id="new_password-error" role="alert" { (m) } }
                    button type="submit" { (lang.t("settings-change")) }
                }
            }
            section aria-labelledby="tokens" {
                h2 id="tokens" { (lang.t("settings-tokens")) }
                p class="help" { (lang.t("settings-tokens-help")) }
                @if let Some(secret) = &notice.new_token {
                    p role="status" { (lang.t("settings-token-made")) }
                    p { code class="secret" id="new-token" { (secret) } }
                }
                (token_list(lang, tokens, "/settings/tokens"))
                form method="post" action="/settings/tokens" class="stack" {
                    label for="token_name" { (lang.t("settings-token-name")) }
                    input id="token_name" name="name" type="text" required
                        aria-describedby=[problem_for("name").map(|_| "token_name-error")];
                    @if let Some(m) = problem_for("name") { p class="error" id="token_name-error" role="alert" { (m) } }
                    label for="token_scope" { (lang.t("settings-token-scope")) }
                    select id="token_scope" name="scope" {
                        option value="read" { (scope_label(lang, TokenScope::Read)) }
                        option value="write" { (scope_label(lang, TokenScope::Write)) }
                    }
                    label for="token_days" { (lang.t("settings-token-days")) }
                    input id="token_days" name="days" type="text" inputmode="numeric"
                        aria-describedby=[problem_for("days").map(|_| "token_days-error")];
                    @if let Some(m) = problem_for("days") { p class="error" id="token_days-error" role="alert" { (m) } }
                    button type="submit" { (lang.t("settings-token-make")) }
                }
            }
        },
    )
}

/// The tokens, each with a revoke button posting to `{revoke_base}/{token_id}/revoke`.
pub(crate) fn token_list(lang: Lang, tokens: &[TokenView], revoke_base: &str) -> Markup {
    html! {
        @if tokens.is_empty() {
            p class="empty" { (lang.t("settings-no-tokens")) }
        } @else {
            ul class="tokens" {
                @for t in tokens {
                    li {
                        (lang.t_with("settings-token-line", &[
                            ("name", t.name.clone().into()),
                            ("scope", scope_label(lang, t.scope).into()),
                            ("created", t.created_at.get(..10).unwrap_or(&t.created_at).to_string().into()),
                        ]))
                        " · "
                        @match &t.last_used {
                            Some(used) => (lang.t_with("settings-token-used", &[("used", used.get(..10).unwrap_or(used).to_string().into())])),
                            None => (lang.t("settings-token-unused")),
                        }
                        @if let Some(expires) = &t.expires_at { " · " (lang.t_with("settings-token-expires", &[("date", expires.get(..10).unwrap_or(expires).to_string().into())])) }
                        @if t.revoked_at.is_some() {
                            " · " (lang.t("settings-token-revoked"))
                        } @else {
                            " "
                            form method="post" action={ (revoke_base) "/" (t.token_id) "/revoke" } class="inline" {
                                button type="submit" aria-label={ (lang.t("settings-token-revoke")) ": " (t.name) } { (lang.t("settings-token-revoke")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn render(
    state: &ServerState,
    viewer: &Viewer,
    status: StatusCode,
    notice: Notice,
) -> Response {
    let (actor, username) = (viewer.actor.clone(), viewer.identity.username.clone());
    match blocking(state, move |app| app.tokens(&actor, &username)).await {
        Ok(tokens) => (
            status,
            settings_markup(
                viewer.lang,
                viewer.nav(),
                viewer.identity.language.as_deref(),
                &tokens,
                &notice,
            ),
        )
            .into_response(),
        Err(e) => error_page(viewer.lang, e),
    }
}

/// `GET /settings`.
pub async fn settings_page(State(state): State<ServerState>, viewer: Viewer) -> Response {
    render(&state, &viewer, StatusCode::OK, Notice::default()).await
}

#[derive(Deserialize, Default)]
pub struct LanguageForm {
    #[serde(default)]
    language: String,
}

/// `POST /settings/language`: keeps the language on the account (it follows the person to
/// any browser) and in this browser's cookie; empty: the browser's preference decides.
pub async fn choose_language(
    State(state): State<ServerState>,
    headers: HeaderMap,
    viewer: Viewer,
    axum::Form(form): axum::Form<LanguageForm>,
) -> Response {
    if !same_origin(&headers, &state) {
        return refused_origin(viewer.lang);
    }
    let chosen = match form.language.trim() {
        "" => None,
        tag => Some(Lang::negotiate(Some(tag), None).tag().to_string()),
    };
    let identity = viewer.identity.clone();
    let kept = chosen.clone();
    match blocking(&state, move |app| {
        app.set_own_language(&identity, kept.as_deref())
    })
    .await
    {
        Ok(()) => {
            super::with_language_cookie(super::redirect("/settings#language"), chosen.as_deref())
        }
        Err(e) => error_page(viewer.lang, e),
    }
}

#[derive(Deserialize, Default)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

/// `POST /settings/password`.
pub async fn change_password(
    State(state): State<ServerState>,
    headers: HeaderMap,
    viewer: Viewer,
    ClientAddress(client): ClientAddress,
    axum::Form(form): axum::Form<PasswordForm>,
) -> Response {
    if !same_origin(&headers, &state) {
        return refused_origin(viewer.lang);
    }
    let (actor, identity) = (viewer.actor.clone(), viewer.identity.clone());
    let changed = blocking(&state, move |app| {
        app.change_own_password(
            &actor,
            &identity,
            &form.current_password,
            &form.new_password,
            &client,
        )
    })
    .await;
    let lang = viewer.lang;
    match changed {
        Ok(()) => {
            let notice = Notice {
                done: Some(lang.t("settings-changed")),
                ..Notice::default()
            };
            render(&state, &viewer, StatusCode::OK, notice).await
        }
        Err(e) => {
            let field = if e.status == StatusCode::UNAUTHORIZED
                || e.status == StatusCode::TOO_MANY_REQUESTS
            {
                "current_password"
            } else {
                "new_password"
            };
            let message = if e.status == StatusCode::UNAUTHORIZED {
                lang.t("sign-in-refused")
            } else {
                e.message.clone()
            };
            let notice = Notice {
                problem: Some((field, message)),
                ..Notice::default()
            };
            render(&state, &viewer, e.status, notice).await
        }
    }
}

#[derive(Deserialize, Default)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    days: String,
}

/// `POST /settings/tokens`: makes a token and shows its secret this once.
pub async fn make_token(
    State(state): State<ServerState>,
    headers: HeaderMap,
    viewer: Viewer,
    axum::Form(form): axum::Form<TokenForm>,
) -> Response {
    let lang = viewer.lang;
    if !same_origin(&headers, &state) {
        return refused_origin(lang);
    }
    let days = match form.days.trim() {
        "" => None,
        text => match text.parse::<u32>() {
            Ok(days) if days > 0 => Some(days),
            _ => {
                let notice = Notice {
                    problem: Some((
                        "days",
                        lang.t_with("settings-bad-days", &[("value", text.to_string().into())]),
                    )),
                    ..Notice::default()
                };
                return render(&state, &viewer, StatusCode::UNPROCESSABLE_ENTITY, notice).await;
            }
        },
    };
    let scope = if form.scope == "write" {
        TokenScope::Write
    } else {
        TokenScope::Read
    };
    let (actor, username) = (viewer.actor.clone(), viewer.identity.username.clone());
    let made = blocking(&state, move |app| {
        let expires = days.map(|d| app.clock().now() + chrono::Duration::days(i64::from(d)));
        app.create_token(&actor, &username, &form.name, scope, expires)
    })
    .await;
    match made {
        Ok((secret, _)) => {
            let notice = Notice {
                new_token: Some(secret.0),
                ..Notice::default()
            };
            render(&state, &viewer, StatusCode::CREATED, notice).await
        }
        Err(e) => {
            let notice = Notice {
                problem: Some(("name", e.message.clone())),
                ..Notice::default()
            };
            render(&state, &viewer, e.status, notice).await
        }
    }
}

/// `POST /settings/tokens/{token_id}/revoke`.
pub async fn revoke_token(
    State(state): State<ServerState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(token_id): Path<String>,
) -> Response {
    if !same_origin(&headers, &state) {
        return refused_origin(viewer.lang);
    }
    let (actor, username) = (viewer.actor.clone(), viewer.identity.username.clone());
    match blocking(&state, move |app| {
        app.revoke_token(&actor, &username, &token_id)
    })
    .await
    {
        Ok(()) => redirect("/settings#tokens"),
        Err(e) => error_page(viewer.lang, e),
    }
}
