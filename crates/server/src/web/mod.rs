//! The web pages: server-rendered HTML (maud) over the same app calls as the API. A page
//! shows what the API would return to that person and nothing more; every string that is
//! not data comes from the message catalogue ([`i18n`]). Forms post with the session cookie
//! and are held to the same origin check as the API's cookie-authenticated changes.

mod accounts;
mod admin;
mod cycles;
mod diagnostics;
mod explore;
mod flagpoles;
pub mod i18n;
mod node;
mod org;
mod reviews;
mod settings;

use crate::auth::{client_address, cookie, same_origin, session_cookie};
use crate::error::ApiError;
use crate::{ServerState, blocking};
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use i18n::Lang;
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use valuetree_app::Actor;
use valuetree_app::accounts::Identity;
use valuetree_app::queries::{CreditPoint, PersonRecordView, Tasks, TreeNode};
use valuetree_core::domain::{NodeKind, NodeStatus};

/// The cookie holding a language the person chose.
const LANG_COOKIE: &str = "vt_lang";
const STYLESHEET: &str = include_str!("app.css");
/// How many contributions waiting for confirmation the home page lists (the oldest); the
/// node pages list them all.
const CONFIRM_ON_HOME: usize = 5;

pub fn routes() -> axum::Router<ServerState> {
    axum::Router::new()
        .route("/", get(home))
        .route("/people/{person_id}", get(person))
        .route("/org", get(org::org_page))
        .route("/tree", get(explore::explorer_page))
        .route("/admin", get(admin::admin_page))
        .route("/diagnostics", get(diagnostics::kept_page))
        .route("/diagnostics/churn", get(diagnostics::churn_page))
        .route(
            "/diagnostics/collaboration",
            get(diagnostics::collaboration_page),
        )
        .route("/diagnostics/tree", get(diagnostics::tree_page))
        .route("/diagnostics/ratings", get(diagnostics::ratings_page))
        .route(
            "/diagnostics/whatif",
            get(diagnostics::whatif_page).post(diagnostics::whatif),
        )
        .route("/cycles", get(cycles::cycles_page))
        .route("/cycles/{cycle_id}/calibration", get(cycles::board_page))
        .route("/cycles/{cycle_id}/calibrate", post(cycles::calibrate))
        .route("/cycles/{cycle_id}/phase", post(cycles::move_phase))
        .route("/cycles/{cycle_id}/overrides", post(cycles::override_score))
        .route("/reviews", get(reviews::reviews_home))
        .route("/reviews/{cycle_id}", get(reviews::to_write_page))
        .route("/reviews/{cycle_id}/ratings", post(reviews::rate))
        .route(
            "/reviews/{cycle_id}/people/{person_id}",
            get(reviews::own_page),
        )
        .route(
            "/reviews/{cycle_id}/people/{person_id}/{form}",
            post(reviews::own_post),
        )
        .route("/admin/import", post(admin::import))
        .route("/admin/accounts", post(admin::add_account))
        .route("/admin/verify", post(admin::verify))
        .route("/admin/accounts/{username}", get(accounts::account_page))
        .route("/admin/accounts/{username}/{what}", post(accounts::change))
        .route(
            "/admin/accounts/{username}/tokens/{token_id}/revoke",
            post(accounts::revoke_token),
        )
        .route(
            "/flagpoles",
            get(flagpoles::flagpoles_page).post(flagpoles::raise),
        )
        .route("/flagpoles/{node_id}/ask", post(flagpoles::ask))
        .route("/flagpoles/{node_id}/link", post(flagpoles::link))
        .route("/nodes/{node_id}/hand-over", post(node::hand_over))
        .route("/nodes/{node_id}/leave", post(node::leave))
        .route("/settings", get(settings::settings_page))
        .route("/settings/password", post(settings::change_password))
        .route("/settings/language", post(settings::choose_language))
        .route("/settings/tokens", post(settings::make_token))
        .route(
            "/settings/tokens/{token_id}/revoke",
            post(settings::revoke_token),
        )
        .route("/nodes/{node_id}", get(node::node_page))
        .route("/nodes/{node_id}/contributions", post(node::record))
        .route(
            "/contributions/{contribution_id}/confirm",
            post(node::confirm),
        )
        .route(
            "/nodes/{node_id}/join-requests/{person_id}",
            post(answer_join),
        )
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/lang/{tag}", get(choose_language))
        .route("/static/app.css", get(stylesheet))
}

fn language(headers: &HeaderMap) -> Lang {
    Lang::negotiate(
        cookie(headers, LANG_COOKIE),
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

/// Who is looking at a page, in which language; a page for the signed-in sends everyone
/// else to the sign-in form.
pub struct Viewer {
    pub identity: Identity,
    pub actor: Actor,
    pub lang: Lang,
}

/// The language of a request, for pages anyone may see.
pub struct Language(pub Lang);

impl<S: Send + Sync> FromRequestParts<S> for Language {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Language, Self::Rejection> {
        Ok(Language(language(&parts.headers)))
    }
}

impl FromRequestParts<ServerState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ServerState,
    ) -> Result<Viewer, Response> {
        let lang = language(&parts.headers);
        let to_sign_in = || redirect("/login");
        let Some(secret) = session_cookie(&parts.headers) else {
            return Err(to_sign_in());
        };
        let identity = blocking(state, move |app| app.session_identity(&secret))
            .await
            .map_err(|e| error_page(lang, e))?
            .ok_or_else(to_sign_in)?;
        let lookup = identity.clone();
        let actor = blocking(state, move |app| app.actor_of(&lookup))
            .await
            .map_err(|e| error_page(lang, e))?;
        // This browser's explicit choice, else the person's, else the browser's preference.
        let lang = Lang::negotiate(
            cookie(&parts.headers, LANG_COOKIE).or(identity.language.as_deref()),
            parts
                .headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        );
        Ok(Viewer {
            identity,
            actor,
            lang,
        })
    }
}

pub(crate) fn redirect(location: &str) -> Response {
    let location =
        HeaderValue::from_str(location).unwrap_or_else(|_| HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// Which navigation a page's header shows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    /// Nobody signed in (the sign-in form, errors).
    Out,
    /// Someone signed in; administrators also see the administration link, HR the
    /// diagnostics.
    In { admin: bool, hr: bool },
}

impl Viewer {
    pub(crate) fn nav(&self) -> Nav {
        Nav::In {
            admin: self.actor.has_role(valuetree_core::domain::Role::Admin),
            hr: self.actor.is_operator() || self.actor.has_role(valuetree_core::domain::Role::Hr),
        }
    }
}

/// The frame of every page: the language, the header with the navigation, the content.
pub(crate) fn page(lang: Lang, title: &str, nav: Nav, content: Markup) -> Markup {
    let signed_in = nav != Nav::Out;
    let other = lang.other();
    html! {
        (DOCTYPE)
        html lang=(lang.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (lang.t("app-name")) }
                link rel="stylesheet" href="/static/app.css";
            }
            body {
                a class="skip" href="#content" { (lang.t("skip-to-content")) }
                header class="top" {
                    a class="brand" href="/" { (lang.t("app-name")) }
                    nav aria-label=(lang.t("app-name")) {
                        @if signed_in {
                            a href="/" { (lang.t("nav-home")) }
                            a href="/tree" { (lang.t("nav-tree")) }
                            a href="/flagpoles" { (lang.t("nav-flagpoles")) }
                            a href="/org" { (lang.t("nav-org")) }
                            a href="/reviews" { (lang.t("nav-reviews")) }
                            a href="/cycles" { (lang.t("nav-cycles")) }
                            a href="/settings" { (lang.t("nav-settings")) }
                            @if let Nav::In { hr: true, .. } = nav {
                                a href="/diagnostics" { (lang.t("nav-diagnostics")) }
                            }
                            @if let Nav::In { admin: true, .. } = nav {
                                a href="/admin" { (lang.t("nav-admin")) }
                            }
                        }
                        a href={ "/lang/" (other.tag()) } lang=(other.tag()) { (lang.t("lang-switch")) }
                        @if signed_in {
                            form method="post" action="/logout" class="inline" {
                                button type="submit" { (lang.t("nav-sign-out")) }
                            }
                        }
                    }
                }
                main id="content" tabindex="-1" {
                    (content)
                }
            }
        }
    }
}

/// A page saying what went wrong, with the status the API would give.
pub(crate) fn error_page(lang: Lang, error: ApiError) -> Response {
    let status = error.status;
    // The heading says what kind of answer this is; the message says why.
    let title = lang.t(match status {
        StatusCode::FORBIDDEN => "error-title-forbidden",
        StatusCode::NOT_FOUND => "error-title-not-found",
        _ => "error-title",
    });
    let markup = page(
        lang,
        &title,
        Nav::Out,
        html! {
            h1 { (title) }
            p role="alert" { (error.message) }
        },
    );
    (status, markup).into_response()
}

/// The answer to a change posted without this server's origin (another site's form).
pub(crate) fn refused_origin(lang: Lang) -> Response {
    error_page(
        lang,
        ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "a change must be made from this server's pages",
        ),
    )
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// `GET /lang/{tag}`: keeps the language chosen (a year) and goes back home.
async fn choose_language(Path(tag): Path<String>) -> Response {
    let lang = Lang::negotiate(Some(&tag), None);
    with_language_cookie(redirect("/"), Some(lang.tag()))
}

/// Keeps a language in this browser's cookie for a year (`None` forgets it).
pub(crate) fn with_language_cookie(mut response: Response, tag: Option<&str>) -> Response {
    let cookie = match tag {
        Some(tag) => format!("{LANG_COOKIE}={tag}; Path=/; Max-Age=31536000; SameSite=Lax"),
        None => format!("{LANG_COOKIE}=; Path=/; Max-Age=0; SameSite=Lax"),
    };
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize, Default)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

fn login_page(state: &ServerState, lang: Lang, username: &str, problem: Option<String>) -> Markup {
    page(
        lang,
        &lang.t("sign-in-title"),
        Nav::Out,
        html! {
            h1 { (lang.t("sign-in-title")) }
            p class="promise" { (lang.t("promise")) }
            form method="post" action="/login" class="stack" novalidate {
                @if let Some(problem) = &problem {
                    p class="error" role="alert" id="sign-in-error" { (problem) }
                }
                label for="username" { (lang.t("sign-in-username")) }
                input id="username" name="username" type="text" autocomplete="username"
                    value=(username) required autofocus
                    aria-describedby=[problem.as_ref().map(|_| "sign-in-error")];
                label for="password" { (lang.t("sign-in-password")) }
                input id="password" name="password" type="password"
                    autocomplete="current-password" required;
                button type="submit" { (lang.t("sign-in-submit")) }
            }
            @if state.has_sso() {
                p { a class="button" href="/auth/oidc/login" { (lang.t("sign-in-with")) } }
            }
        },
    )
}

/// `GET /login`: the sign-in form.
async fn login_form(State(state): State<ServerState>, Language(lang): Language) -> Markup {
    login_page(&state, lang, "", None)
}

/// `POST /login`: signs in and goes to the person's value tree; a refusal shows the form
/// again with the username kept and the reason beside it.
async fn login(
    State(state): State<ServerState>,
    Language(lang): Language,
    headers: HeaderMap,
    parts: ClientAddress,
    axum::Form(form): axum::Form<LoginForm>,
) -> Response {
    if headers.contains_key(header::ORIGIN) && !same_origin(&headers, &state) {
        return error_page(
            lang,
            ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "sign in from this server's pages",
            ),
        );
    }
    if form.username.trim().is_empty() || form.password.is_empty() {
        let markup = login_page(&state, lang, &form.username, Some(lang.t("sign-in-empty")));
        return (StatusCode::UNPROCESSABLE_ENTITY, markup).into_response();
    }
    let (username, password, client) = (form.username.clone(), form.password, parts.0);
    let signed_in = blocking(&state, move |app| app.login(&username, &password, &client)).await;
    match signed_in {
        Ok((secret, _)) => {
            let absolute = state.app.account_policy().absolute.num_seconds();
            let mut response = redirect("/");
            response.headers_mut().insert(
                header::SET_COOKIE,
                crate::routes::session_cookie_header(&state, &secret.0, Some(absolute)),
            );
            response
        }
        Err(e) => {
            let message = if e.status == StatusCode::UNAUTHORIZED {
                lang.t("sign-in-refused")
            } else {
                e.message.clone()
            };
            let markup = login_page(&state, lang, &form.username, Some(message));
            (e.status, markup).into_response()
        }
    }
}

/// The client's address (for sign-in throttling), as the API takes it.
pub struct ClientAddress(String);

impl FromRequestParts<ServerState> for ClientAddress {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &ServerState,
    ) -> Result<ClientAddress, Self::Rejection> {
        Ok(ClientAddress(client_address(parts, state)))
    }
}

/// `POST /logout`: ends the session.
async fn logout(State(state): State<ServerState>, headers: HeaderMap, viewer: Viewer) -> Response {
    if !same_origin(&headers, &state) {
        return refused_origin(viewer.lang);
    }
    let identity = viewer.identity.clone();
    if let Err(e) = blocking(&state, move |app| app.logout(&identity)).await {
        return error_page(viewer.lang, e);
    }
    let mut response = redirect("/login");
    response.headers_mut().insert(
        header::SET_COOKIE,
        crate::routes::session_cookie_header(&state, "", Some(0)),
    );
    response
}

pub(crate) fn kind_label(lang: Lang, kind: NodeKind) -> String {
    lang.t(match kind {
        NodeKind::Need => "kind-need",
        NodeKind::Objective => "kind-objective",
        NodeKind::Initiative => "kind-initiative",
        NodeKind::Deliverable => "kind-deliverable",
    })
}

pub(crate) fn status_label(lang: Lang, status: NodeStatus) -> String {
    lang.t(match status {
        NodeStatus::Proposed => "status-proposed",
        NodeStatus::Active => "status-active",
        NodeStatus::Done => "status-done",
        NodeStatus::Abandoned => "status-abandoned",
    })
}

/// The nodes as nested lists; the outermost is `ul.tree`.
fn tree(lang: Lang, nodes: &[TreeNode]) -> Markup {
    html! { ul class="tree" { (tree_items(lang, nodes)) } }
}

fn tree_items(lang: Lang, nodes: &[TreeNode]) -> Markup {
    html! {
        {
            @for n in nodes {
                li class={ "node " (n.kind.as_str()) @if n.contributions > 0 { " mine" } } {
                    span class="kind" { (kind_label(lang, n.kind)) }
                    " "
                    a class="title" href={ "/nodes/" (n.node.node_id) } { (n.node.title) }
                    " "
                    span class="id" { (n.node.node_id) }
                    @if n.status != NodeStatus::Active {
                        " " span class="status" { (status_label(lang, n.status)) }
                    }
                    @if n.contributions > 0 {
                        div class="share" {
                            (lang.t_with("home-mine", &[
                                ("count", n.contributions.into()),
                                ("effort", lang.number(n.effort, 1).into()),
                            ]))
                        }
                    }
                    @if !n.children.is_empty() {
                        ul { (tree_items(lang, &n.children)) }
                    }
                }
            }
        }
    }
}

/// The person's record across reorganisations as one timeline, oldest first: every unit and
/// manager (with the span), the nodes joined and left, and the hand-overs given or received.
fn history(lang: Lang, record: &PersonRecordView) -> Markup {
    let me = record.person.person_id.as_str();
    let mut entries: Vec<(valuetree_core::NaiveDate, u8, Markup)> = Vec::new();
    for item in &record.history {
        entries.push((
            item.valid_from,
            0,
            html! {
                span class="when" {
                    (lang.date(item.valid_from)) " – "
                    @match item.valid_to {
                        Some(to) => (lang.date(to)),
                        None => (lang.t("home-until-now")),
                    }
                }
                " "
                span class="unit" { (item.unit.name) }
                " · "
                @match &item.manager {
                    Some(m) => (lang.t_with("home-manager", &[("name", m.name.clone().into())])),
                    None => (lang.t("home-no-manager")),
                }
            },
        ));
    }
    let node_link = |node: &valuetree_app::queries::NodeRef| {
        html! { a href={ "/nodes/" (node.node_id) } { (node.title) } }
    };
    for m in &record.memberships {
        entries.push((
            m.joined_on,
            1,
            html! { span class="when" { (lang.date(m.joined_on)) } " " (lang.t("home-joined")) " " (node_link(&m.node)) " · " (m.role) },
        ));
        if let Some(left) = m.left_on {
            entries.push((
                left,
                2,
                html! { span class="when" { (lang.date(left)) } " " (lang.t("home-left")) " " (node_link(&m.node)) },
            ));
        }
    }
    for h in &record.handovers {
        let received = h.to.as_ref().is_some_and(|p| p.person_id == me);
        let other = if received { &h.from } else { &h.to };
        let other = other
            .as_ref()
            .map_or_else(|| "—".to_string(), |p| p.name.clone());
        entries.push((
            h.date,
            3,
            html! {
                span class="when" { (lang.date(h.date)) } " "
                @if received { (lang.t_with("home-took-over", &[("name", other.into())])) }
                @else { (lang.t_with("home-handed-over", &[("name", other.into())])) }
                " " (node_link(&h.node))
                @if !h.note.is_empty() { " — " (h.note) }
            },
        ));
    }
    entries.sort_by_key(|(date, order, _)| (*date, *order));
    html! {
        @if entries.is_empty() {
            p class="empty" { (lang.t("home-history-empty")) }
        } @else {
            ol class="timeline" {
                @for (_, order, entry) in &entries {
                    li class=(["unit", "joined", "left", "handover"][*order as usize]) { (entry) }
                }
            }
        }
    }
}

/// The sections of a person's record: credit, value tree, history, leads and memberships,
/// and the ratings and feedback the viewer may see (whatever the app returned).
fn record_sections(lang: Lang, record: &PersonRecordView, nodes: &[TreeNode], own: bool) -> Markup {
    let credit = record.private.as_ref().and_then(|p| p.credit);
    html! {
        @if let Some(credit) = credit {
            section aria-labelledby="credit" {
                h2 id="credit" { (lang.t(if own { "home-credit" } else { "person-credit" })) }
                p class="figure" { (lang.number(credit, 2)) }
                p class="help" { (lang.t(if own { "home-credit-help" } else { "person-credit-help" })) }
            }
        }
        section aria-labelledby="tree" {
            h2 id="tree" { (lang.t(if own { "home-tree" } else { "person-tree" })) }
            p class="help" { (lang.t(if own { "home-tree-help" } else { "person-tree-help" })) }
            @if nodes.is_empty() {
                p class="empty" { (lang.t(if own { "home-tree-empty" } else { "person-tree-empty" })) }
            } @else {
                (tree(lang, nodes))
            }
        }
        section aria-labelledby="history" {
            h2 id="history" { (lang.t("home-history")) }
            p class="help" { (lang.t("home-history-help")) }
            (history(lang, record))
        }
        section aria-labelledby="leads" {
            h2 id="leads" { (lang.t("home-leads")) }
            @if record.leads.is_empty() {
                p class="empty" { (lang.t("home-none")) }
            } @else {
                ul { @for led in &record.leads { li { a href={ "/nodes/" (led.node.node_id) } { (led.node.title) } " " span class="id" { (led.node.node_id) } } } }
            }
            h2 { (lang.t("home-memberships")) }
            @if record.memberships.is_empty() {
                p class="empty" { (lang.t("home-none")) }
            } @else {
                ul { @for m in &record.memberships { li { a href={ "/nodes/" (m.node.node_id) } { (m.node.title) } " · " (m.role) } } }
            }
        }
        @if let Some(private) = &record.private {
            @if !private.cycles.is_empty() {
                section aria-labelledby="reviews" {
                    h2 id="reviews" { (lang.t("person-reviews")) }
                    @for cycle in &private.cycles {
                        h3 { (cycle.cycle_id) " · " (lang.date(cycle.starts_on)) " – " (lang.date(cycle.ends_on)) }
                        @if let Some(feedback) = &cycle.feedback {
                            @for group in &feedback.groups {
                                p { strong { (group.label) } " · " (lang.t_with("person-raters", &[("count", group.raters.into())])) }
                                ul { @for (dimension, (mean, n)) in &group.means { li { (dimension) ": " (lang.number(*mean, 2)) " (" (n) ")" } } }
                            }
                            @if feedback.withheld_ratings > 0 {
                                p class="help" { (lang.t_with("person-withheld", &[
                                    ("ratings", feedback.withheld_ratings.into()),
                                    ("threshold", feedback.threshold.into()),
                                ])) }
                            }
                        }
                        @if !cycle.ratings.is_empty() {
                            ul class="ratings" {
                                @for r in &cycle.ratings {
                                    li { (r.rater.name) " (" (r.relationship) ") · " (r.dimension) ": " strong { (lang.number(r.score, 2)) } @if !r.comment.is_empty() { " — " (r.comment) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A person's record and value tree as `viewer` may see them.
async fn record_of(
    state: &ServerState,
    viewer: &Viewer,
    person_id: String,
) -> Result<(PersonRecordView, Vec<TreeNode>), ApiError> {
    let actor = viewer.actor.clone();
    blocking(state, move |app| {
        let record = app.person_record(&actor, &person_id, None, true)?;
        let tree = app.value_tree_of(&actor, &person_id)?;
        Ok((record, tree))
    })
    .await
}

/// The running total of credit as a step chart (SVG drawn here; no script), with a summary
/// for screen readers.
fn credit_chart(lang: Lang, points: &[CreditPoint]) -> Markup {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return html! {};
    };
    let (width, height, pad) = (640.0_f64, 180.0_f64, 28.0_f64);
    let start = first.date;
    let days = ((last.date - start).num_days().max(1)) as f64;
    let top = points
        .iter()
        .map(|p| p.total)
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let x = |date: valuetree_core::NaiveDate| {
        pad + (date - start).num_days() as f64 / days * (width - 2.0 * pad)
    };
    let y = |total: f64| height - pad - total / top * (height - 2.0 * pad);
    let mut path = format!("M{:.1},{:.1}", x(start), y(0.0));
    for p in points {
        path.push_str(&format!(" H{:.1} V{:.1}", x(p.date), y(p.total)));
    }
    let summary = lang.t_with(
        "chart-credit-label",
        &[
            ("first", lang.number(first.total, 2).into()),
            ("from", lang.date(first.date).into()),
            ("last", lang.number(last.total, 2).into()),
            ("to", lang.date(last.date).into()),
        ],
    );
    html! {
        figure class="chart" {
            figcaption { (lang.t("chart-credit")) }
            svg viewBox={ "0 0 " (width) " " (height) } role="img" aria-label=(summary) {
                title { (summary) }
                line x1=(pad) y1=(height - pad) x2=(width - pad) y2=(height - pad) class="axis" {}
                line x1=(pad) y1=(pad) x2=(pad) y2=(height - pad) class="axis" {}
                path d=(path) class="series" {}
                text x=(pad) y=(height - 8.0) class="tick" { (lang.date(first.date)) }
                text x=(width - pad) y=(height - 8.0) class="tick end" { (lang.date(last.date)) }
                text x=(pad + 4.0) y=(pad - 8.0) class="tick" { (lang.number(top, 2)) }
            }
        }
    }
}

/// What waits on me: contributions to confirm (with the button), requests to join.
fn tasks_section(lang: Lang, tasks: &Tasks) -> Markup {
    html! {
        section aria-labelledby="tasks" class="tasks" {
            h2 id="tasks" { (lang.t("tasks-title")) }
            @let reviews_waiting = tasks.reviews.as_ref().is_some_and(|r| r.to_write > 0);
            @if tasks.to_confirm_total == 0 && tasks.join_requests.is_empty() && !reviews_waiting {
                p class="empty" { (lang.t("tasks-none")) }
            }
            @if let Some(r) = &tasks.reviews {
                @if r.to_write > 0 {
                    h3 { a href={ "/reviews/" (r.cycle_id) } { (lang.t_with("tasks-reviews", &[("count", r.to_write.into()), ("cycle", r.name.clone().into())])) } }
                }
            }
            @if tasks.to_confirm_total > 0 {
                h3 { (lang.t_with("tasks-confirm", &[("total", tasks.to_confirm_total.into())])) }
                ul class="to-confirm" {
                    @for c in tasks.to_confirm.iter().take(CONFIRM_ON_HOME) {
                        li {
                            a href={ "/nodes/" (c.node.node_id) "#c-" (c.contribution_id) } { (c.node.title) } " · "
                            (c.person.name) " · " (lang.date(c.date)) " · " (c.description) " "
                            form method="post" action={ "/contributions/" (c.contribution_id) "/confirm" } class="inline" {
                                button type="submit" aria-label={ (lang.t("node-confirm")) ": " (c.person.name) ", " (c.description) } { (lang.t("node-confirm")) }
                            }
                        }
                    }
                }
            }
            @if tasks.to_confirm_total > CONFIRM_ON_HOME {
                p class="help" { (lang.t_with("tasks-confirm-more", &[("count", (tasks.to_confirm_total - CONFIRM_ON_HOME).into())])) }
            }
            @if !tasks.join_requests.is_empty() {
                h3 { (lang.t("tasks-join")) }
                ul class="join-requests" {
                    @for task in &tasks.join_requests {
                        li {
                            (lang.t_with("tasks-join-line", &[
                                ("person", task.request.person.name.clone().into()),
                                ("node", task.node.title.clone().into()),
                                ("role", task.request.role.clone().into()),
                            ]))
                            @if !task.request.message.is_empty() { " — " (task.request.message) }
                            " "
                            @for (answer, label) in [("accepted", "tasks-accept"), ("declined", "tasks-decline")] {
                                form method="post" action={ "/nodes/" (task.node.node_id) "/join-requests/" (task.request.person.person_id) } class="inline" {
                                    input type="hidden" name="status" value=(answer);
                                    button type="submit" { (lang.t(label)) }
                                }
                                " "
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct JoinAnswer {
    status: valuetree_core::domain::JoinStatus,
}

/// `POST /nodes/{node_id}/join-requests/{person_id}`: the lead answers; back home.
async fn answer_join(
    State(state): State<ServerState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path((node_id, person_id)): Path<(String, String)>,
    axum::Form(form): axum::Form<JoinAnswer>,
) -> Response {
    if !same_origin(&headers, &state) {
        return refused_origin(viewer.lang);
    }
    let actor = viewer.actor.clone();
    match blocking(&state, move |app| {
        app.answer_join(&actor, &node_id, &person_id, form.status)
    })
    .await
    {
        Ok(_) => redirect("/#tasks"),
        Err(e) => error_page(viewer.lang, e),
    }
}

/// `GET /`: my value tree — what my work served, where I have worked, my credit.
async fn home(State(state): State<ServerState>, viewer: Viewer) -> Response {
    let lang = viewer.lang;
    let Some(person_id) = viewer.identity.person_id.clone() else {
        let markup = page(
            lang,
            &lang.t("home-title"),
            viewer.nav(),
            html! { h1 { (lang.t("home-title")) } p { (lang.t("home-service")) } },
        );
        return markup.into_response();
    };
    let (actor, id) = (viewer.actor.clone(), person_id.clone());
    let tasks = match blocking(&state, move |app| app.tasks_of(&actor, &id)).await {
        Ok(tasks) => tasks,
        Err(e) => return error_page(lang, e),
    };
    let (actor, id) = (viewer.actor.clone(), person_id.clone());
    let (readers, growth) = match blocking(&state, move |app| {
        Ok((
            app.record_readers(&actor, &id)?,
            app.credit_over_time(&actor, &id)?,
        ))
    })
    .await
    {
        Ok(found) => found,
        Err(e) => return error_page(lang, e),
    };
    let (record, nodes) = match record_of(&state, &viewer, person_id).await {
        Ok(found) => found,
        Err(e) => return error_page(lang, e),
    };
    page(
        lang,
        &lang.t("home-title"),
        viewer.nav(),
        html! {
            h1 { (lang.t("home-title")) " · " (record.person.name) }
            p class="promise" { (lang.t("promise")) }
            (tasks_section(lang, &tasks))
            @if let Some(growth) = &growth { (credit_chart(lang, growth)) }
            (record_sections(lang, &record, &nodes, true))
            section aria-labelledby="looked" {
                h2 id="looked" { (lang.t("looked-title")) }
                p class="help" { (lang.t("looked-help")) }
                @if readers.is_empty() {
                    p class="empty" { (lang.t("looked-none")) }
                } @else {
                    ul class="readers" {
                        @for read in readers.iter().take(50) {
                            li { (read.at.get(..10).unwrap_or(&read.at)) " · " strong { (read.reader.name) } " · " (read.what) }
                        }
                    }
                }
            }
        },
    )
    .into_response()
}

/// `GET /people/{person_id}`: another person's record, showing what the viewer may see
/// (their work to everyone; ratings and credit as the permissions say, the read audited).
async fn person(
    State(state): State<ServerState>,
    viewer: Viewer,
    Path(person_id): Path<String>,
) -> Response {
    let lang = viewer.lang;
    if viewer.identity.person_id.as_deref() == Some(person_id.as_str()) {
        return redirect("/");
    }
    let (record, nodes) = match record_of(&state, &viewer, person_id).await {
        Ok(found) => found,
        Err(e) => return error_page(lang, e),
    };
    page(
        lang,
        &record.person.name,
        viewer.nav(),
        html! {
            h1 { (record.person.name) " " span class="id" { (record.person.person_id) } }
            @if let Some(placement) = &record.placement {
                p { @if let Some(unit) = &placement.unit { (unit.name) } @if let Some(manager) = &placement.manager { " · " (lang.t_with("home-manager", &[("name", manager.name.clone().into())])) } }
            }
            (record_sections(lang, &record, &nodes, false))
        },
    )
    .into_response()
}
