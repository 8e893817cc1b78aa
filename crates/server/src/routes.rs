//! The routes of the JSON API. Names follow the CSV columns (`person_id`, `node_id`, `phase`,
//! `date`, `effort`, …), so that a file row and a JSON body read the same.

use crate::auth::{Caller, SESSION_COOKIE, client_address, same_origin};
use crate::error::ApiError;
use crate::{Body, Params, ServerState, blocking, record, writes};
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodFilter;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use valuetree_app::accounts::{TokenScope, Via};
use valuetree_app::commands::work::NewContribution;
use valuetree_app::queries::{CollaborationQuery, CreditQuery, KeptQuery, TreeHealthQuery};
use valuetree_app::{ContributionFilter, Page};
use valuetree_core::NaiveDate;
use valuetree_core::domain::{OutcomeRecord, Phase, PolicyKind};
use valuetree_core::{Amount, credit::Policy};

/// Every route with its method and what it does: the router and the OpenAPI document
/// (`/api/openapi.json`) are both built from this one list, so they cannot drift apart.
struct Api {
    paths: std::collections::BTreeMap<&'static str, axum::routing::MethodRouter<ServerState>>,
    docs: Vec<(&'static str, Method, &'static str)>,
}

impl Api {
    fn new() -> Api {
        Api {
            paths: std::collections::BTreeMap::new(),
            docs: Vec::new(),
        }
    }

    fn at<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        summary: &'static str,
        handler: H,
    ) -> Api
    where
        H: axum::handler::Handler<T, ServerState>,
        T: 'static,
    {
        let filter = match method {
            Method::GET => MethodFilter::GET,
            Method::POST => MethodFilter::POST,
            Method::PUT => MethodFilter::PUT,
            _ => MethodFilter::DELETE,
        };
        let route = self.paths.remove(path).unwrap_or_default();
        self.paths.insert(path, route.on(filter, handler));
        self.docs.push((path, method, summary));
        self
    }
}

fn api() -> Api {
    use Method as M;
    Api::new()
        .at(M::GET, "/healthz", "The process is up.", healthz)
        .at(M::GET, "/readyz", "The database answers and the snapshot is loaded.", readyz)
        .at(M::POST, "/api/login", "Sign in with {username, password}; sets the session cookie.", login)
        .at(M::POST, "/api/logout", "End the session.", logout)
        .at(M::GET, "/auth/oidc/login", "Sign in with the organisation's identity provider (OpenID Connect, when configured): redirects there.", crate::oidc::login)
        .at(M::GET, "/auth/oidc/callback", "Where the identity provider sends the browser back (code, state); sets the session cookie.", crate::oidc::callback)
        .at(M::GET, "/api/me", "Who is signed in: person_id, username, roles.", me)
        .at(M::POST, "/api/password", "Change your password {current_password, new_password}; ends your other sessions.", change_password)
        .at(M::GET, "/api/tokens", "Your API tokens (never their secrets).", list_tokens)
        .at(M::POST, "/api/tokens", "Make an API token {name, scope: read|write, expires_in_days}; the secret is shown once.", create_token)
        .at(M::DELETE, "/api/tokens/{token_id}", "Revoke one of your API tokens.", revoke_token)
        .at(M::GET, "/api/people/{person_id}", "A person's record (as_of, credit; the contributions listed: phase, from, to, node_id, confirmed, retracted, offset, limit): history, work, memberships, and private data if you may see it.", person)
        .at(M::GET, "/api/people/{person_id}/audit", "Who looked at this person's private record (the person, administrators).", person_audit)
        .at(M::GET, "/api/nodes/{node_id}", "A node of the value tree with its members, hand-overs, contributors, outcomes, credit breakdown and a page of its contributions (phase, from, to, person_id, confirmed, retracted, newest_first, offset, limit).", node)
        .at(M::POST, "/api/nodes", "Create a node {node_id, kind, title, lead_id, created_on, status, description}.", writes::create_node)
        .at(M::POST, "/api/nodes/{node_id}/update", "Change a node's title, description, status or roles wanted (its lead).", writes::update_node)
        .at(M::POST, "/api/nodes/{node_id}/members", "Add a member {person_id, role, joined_on} (the node's lead).", writes::add_member)
        .at(M::POST, "/api/nodes/{node_id}/leave", "End a membership {person_id, left_on} (the member or the lead).", writes::leave)
        .at(M::POST, "/api/nodes/{node_id}/hand-over", "Hand the node to another lead {to_lead_id, date, note}.", writes::hand_over)
        .at(M::POST, "/api/nodes/{node_id}/join-requests", "Ask to join a node {role, message}.", writes::ask_to_join)
        .at(M::POST, "/api/nodes/{node_id}/join-requests/{person_id}", "Answer a request to join {status: accepted|declined|withdrawn}.", writes::answer_join)
        .at(M::POST, "/api/flagpoles", "Raise a flagpole {node_id, title, description, serves_id, roles_wanted}.", writes::raise_flagpole)
        .at(M::POST, "/api/links", "Link a child under a parent {parent_id, child_id, weight, valid_from} (the parent's lead).", writes::link)
        .at(M::POST, "/api/links/end", "End a link {parent_id, child_id, valid_from, valid_to}.", writes::unlink)
        .at(M::GET, "/api/units/{unit_id}", "A unit and its members (as_of).", unit)
        .at(M::GET, "/api/org", "Everyone employed on a date, by unit (as_of, offset, limit).", org)
        .at(M::GET, "/api/tree", "The value tree on a date from the customer needs down, each node with its value realised and contributors, narrowed to a search or a unit's work (q, unit_id, as_of).", tree)
        .at(M::GET, "/api/org/reorganisations", "The reorganisations (a unit created, moved or dissolved, or two or more people changing unit on a date) with who was affected, newest first (from, to, offset, limit).", reorganisations)
        .at(M::GET, "/api/org/diff", "What changed between two dates (from, to).", org_diff)
        .at(M::GET, "/api/credit", "Credit from the value tree (from, to, person_id, node_id, explain, by_node, offset, limit).", credit)
        .at(M::GET, "/api/diagnose/kept-credit", "Credit kept: everyone's credit beside the team view's, why they were off the team, totals by unit and by cause (from, to) (HR).", kept_credit)
        .at(M::GET, "/api/diagnose/churn", "Churn hot spots looking back from a date (as_of) (HR).", churn)
        .at(M::GET, "/api/diagnose/collaboration", "Effort shared across units, bridges and silos (as_of, from, to, depth) (HR).", collaboration)
        .at(M::GET, "/api/diagnose/tree", "The value tree's health (as_of, from, to) (HR).", tree_health)
        .at(M::GET, "/api/diagnose/ratings/{cycle_id}", "A cycle's manager anomalies and rater leniency (HR, the committee).", rating_anomalies)
        .at(M::POST, "/api/whatif", "What a reorganisation plan would do (the body: a CSV file action,subject_id,target_id,date[,manager_id]); nothing is written (HR).", writes::whatif)
        .at(M::POST, "/api/whatif/apply", "Record a reorganisation plan (the body: its CSV), all rows or none (HR).", writes::whatif_apply)
        .at(M::POST, "/api/contributions", "Record a contribution {contribution_id, person_id, node_id, phase, date, effort, description, evidence}; a retry answers 200 with the first receipt.", record_contribution)
        .at(M::POST, "/api/contributions/{contribution_id}/confirm", "Confirm a contribution (the node's lead).", confirm_contribution)
        .at(M::POST, "/api/contributions/{contribution_id}/unconfirm", "Take a confirmation back {reason}.", unconfirm_contribution)
        .at(M::POST, "/api/contributions/{contribution_id}/retract", "Retract a contribution {reason}.", retract_contribution)
        .at(M::POST, "/api/outcomes", "Record value realised {outcome_id, node_id, date, value, description, evidence}.", record_outcome)
        .at(M::GET, "/api/cycles", "The review cycles.", cycles)
        .at(M::POST, "/api/cycles", "Open a cycle {cycle_id, starts_on, ends_on, name, settings (TOML)} (HR).", writes::open_cycle)
        .at(M::GET, "/api/cycles/{cycle_id}", "A cycle's settings and progress.", cycle)
        .at(M::POST, "/api/cycles/{cycle_id}/phase", "Move a cycle to a phase {phase, on} (HR).", writes::move_cycle)
        .at(M::POST, "/api/cycles/{cycle_id}/calibrate", "Calibrate the cycle's submitted ratings and record the result {dimension, model: full | plain | ordinal | ordinal-plain} (HR).", writes::calibrate)
        .at(M::POST, "/api/cycles/{cycle_id}/ratings", "Record your rating {ratee_id, relationship, dimension, score, comment, draft}.", writes::rate)
        .at(M::GET, "/api/cycles/{cycle_id}/session", "The calibration session (HR, the committee).", session)
        .at(M::GET, "/api/cycles/{cycle_id}/final", "The final scores and 9-box (HR, the committee).", final_scores)
        .at(M::GET, "/api/cycles/{cycle_id}/feedback/{person_id}", "What the person sees of their feedback.", feedback)
        .at(M::GET, "/api/cycles/{cycle_id}/record/{person_id}", "The person's whole record in the cycle (managers, HR, committee).", cycle_record)
        .at(M::GET, "/api/cycles/{cycle_id}/to-write/{person_id}", "The reviews asked of a person: everyone whose suggested reviewers name them, with why, and their ratings so far (the person).", reviews_to_write)
        .at(M::GET, "/api/cycles/{cycle_id}/own/{person_id}", "A person's own review: self ratings, goals, self review, values (the person, their managers in the cycle, HR).", own_review)
        .at(M::GET, "/api/cycles/{cycle_id}/reviewers/{person_id}", "Suggested reviewers with their reasons (limit).", reviewers)
        .at(M::POST, "/api/cycles/{cycle_id}/reviewers/{person_id}/add", "Add a reviewer {reviewer_id, reason}.", writes::add_reviewer)
        .at(M::POST, "/api/cycles/{cycle_id}/reviewers/{person_id}/remove", "Remove a reviewer {reviewer_id, reason}.", writes::remove_reviewer)
        .at(M::POST, "/api/cycles/{cycle_id}/goals", "Set a goal {goal_id, person_id, node_id, title, key_results}.", writes::set_goal)
        .at(M::POST, "/api/cycles/{cycle_id}/goals/{goal_id}/measurements", "Measure a key result {metric, actual, measured_on}.", writes::measure)
        .at(M::POST, "/api/cycles/{cycle_id}/self-review", "Link a contribution into a self review {person_id, circle, contribution_id, text}.", writes::link_self_review)
        .at(M::POST, "/api/cycles/{cycle_id}/behaviours", "Assess a values behaviour {person_id, value, behaviour, met, evidence}.", writes::assess_behaviour)
        .at(M::POST, "/api/cycles/{cycle_id}/overrides", "A committee override {person_id, score, reason, dimension}.", writes::override_score)
        .at(M::POST, "/api/cycles/{cycle_id}/apply-quota", "Record the forced-distribution moves (a cycle that opted in).", writes::apply_quota)
        .at(M::GET, "/api/policies/{kind}", "The credit or final-score policy in force.", policy)
        .at(M::PUT, "/api/policies/{kind}", "Record a policy (the body is its TOML) (HR, admin).", writes::set_policy)
        .at(M::POST, "/api/people/{person_id}/erase", "Erase a person's personal data {reason} (HR and admin together): name, e-mail and the free texts about them; the chain still verifies.", writes::erase_person)
        .at(M::POST, "/api/roles/grant", "Grant a role {person_id, role} (admin).", writes::grant_role)
        .at(M::POST, "/api/roles/revoke", "Revoke a role {person_id, role} (admin).", writes::revoke_role)
        .at(M::POST, "/api/imports/{kind}", "Import a CSV file of one kind (the body), atomically (admin).", writes::import)
        .at(M::GET, "/api/ledger/head", "The ledger's head {seq, hash}.", head)
        .at(M::GET, "/api/ledger/verify", "Check the hash chain and the projections (admin).", writes::verify)
        .at(M::GET, "/api/ledger/export", "The whole ledger as JSON Lines (admin; recorded as ledger_exported).", writes::export)
        .at(M::GET, "/api/openapi.json", "This document.", openapi)
}

pub fn routes() -> Router<ServerState> {
    let api = api();
    let mut router = Router::new();
    for (path, route) in api.paths {
        router = router.route(path, route);
    }
    router.fallback(|| async {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such route; see /api/openapi.json",
        )
    })
}

/// The OpenAPI 3.1 document of every route.
fn openapi_document() -> serde_json::Value {
    let mut paths = serde_json::Map::new();
    for (path, method, summary) in api().docs {
        let parameters: Vec<serde_json::Value> = path
            .split('/')
            .filter_map(|part| part.strip_prefix('{').and_then(|p| p.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut operation = json!({
            "summary": summary,
            "operationId": format!("{} {path}", method.as_str().to_lowercase()),
            "parameters": parameters,
            "responses": {
                "200": {"description": "done (a write recorded earlier: the first receipt)"},
                "201": {"description": "recorded: a receipt with the event's seq and hash"},
                "400": {"description": "a malformed request; the message names the field"},
                "401": {"description": "not signed in"},
                "403": {"description": "not allowed: details.rule names the rule"},
                "404": {"description": "not found"},
                "409": {"description": "a conflict with what is recorded"},
                "422": {"description": "refused by the ledger's rules: details.fields"},
            },
        });
        if matches!(method, Method::POST | Method::PUT) {
            operation["requestBody"] =
                json!({"content": {"application/json": {"schema": {"type": "object"}}}});
        }
        paths.entry(path.to_string()).or_insert_with(|| json!({}))
            [method.as_str().to_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "valuetree", "version": env!("CARGO_PKG_VERSION")},
        "components": {"securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
            "token": {"type": "http", "scheme": "bearer"},
        }},
        "security": [{"session": []}, {"token": []}],
        "paths": paths,
    })
}

async fn openapi() -> Json<serde_json::Value> {
    Json(openapi_document())
}

type ApiResult = Result<Response, ApiError>;

fn ok<T: serde::Serialize>(value: T) -> ApiResult {
    Ok(Json(value).into_response())
}

/// Paging: `offset` (default 0) and `limit` (default 50, at most 500).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Paging {
    offset: Option<usize>,
    limit: Option<usize>,
}

fn page(offset: Option<usize>, limit: Option<usize>) -> Result<Page, ApiError> {
    let limit = limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit = {limit}: a page holds 1 to 500 items"
        )));
    }
    Ok(Page {
        offset: offset.unwrap_or(0),
        limit,
    })
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<ServerState>) -> Response {
    if !state.is_ready() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "reason": "the snapshot is still loading"})),
        )
            .into_response();
    }
    match blocking(&state, |app| app.head(&valuetree_app::Actor::Operator)).await {
        Ok(head) => {
            Json(json!({"ready": true, "head": head.map(|h| h.to_string())})).into_response()
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "reason": "the database cannot be reached"})),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    username: String,
    password: String,
}

/// The client address of the request, for sign-in throttling.
struct ClientAddress(String);

impl FromRequestParts<ServerState> for ClientAddress {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &ServerState,
    ) -> Result<ClientAddress, ApiError> {
        Ok(ClientAddress(client_address(parts, state)))
    }
}

pub(crate) fn session_cookie_header(
    state: &ServerState,
    value: &str,
    max_age: Option<i64>,
) -> HeaderValue {
    let mut cookie = format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    if state.config.secure_cookies() {
        cookie.push_str("; Secure");
    }
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn me_json(
    caller_identity: &valuetree_app::accounts::Identity,
    actor: &valuetree_app::Actor,
) -> ApiResult {
    let roles: Vec<&str> = match actor {
        valuetree_app::Actor::Person { roles, .. }
        | valuetree_app::Actor::Service { roles, .. } => roles.iter().map(|r| r.as_str()).collect(),
        valuetree_app::Actor::Operator => Vec::new(),
    };
    ok(json!({
        "person_id": caller_identity.person_id,
        "username": caller_identity.username,
        "roles": roles,
    }))
}

async fn login(
    State(state): State<ServerState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    Body(body): Body<Login>,
) -> ApiResult {
    // A login form posted from another site would sign the visitor in as someone else.
    if headers.contains_key(header::ORIGIN) && !same_origin(&headers, &state) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "sign in from this server's pages",
        ));
    }
    let (secret, identity) = blocking(&state, move |app| {
        app.login(&body.username, &body.password, &client)
    })
    .await?;
    let absolute = state.app.account_policy().absolute.num_seconds();
    let signed_in = identity.clone();
    let actor = blocking(&state, move |app| app.actor_of(&signed_in)).await?;
    let mut response = me_json(&identity, &actor)?;
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie_header(&state, &secret.0, Some(absolute)),
    );
    Ok(response)
}

async fn logout(State(state): State<ServerState>, caller: Caller) -> ApiResult {
    let identity = caller.identity.clone();
    blocking(&state, move |app| app.logout(&identity)).await?;
    let mut response = ok(json!({"signed_out": true}))?;
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie_header(&state, "", Some(0)),
    );
    Ok(response)
}

async fn me(caller: Caller) -> ApiResult {
    me_json(&caller.identity, &caller.actor)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Changes the caller's own password (the current one is asked again); the caller's other
/// sessions end.
async fn change_password(
    State(state): State<ServerState>,
    caller: Caller,
    ClientAddress(client): ClientAddress,
    Body(body): Body<PasswordChange>,
) -> ApiResult {
    blocking(&state, move |app| {
        app.change_own_password(
            &caller.actor,
            &caller.identity,
            &body.current_password,
            &body.new_password,
            &client,
        )
    })
    .await?;
    ok(json!({"password_changed": true}))
}

async fn list_tokens(State(state): State<ServerState>, caller: Caller) -> ApiResult {
    let username = caller.identity.username.clone();
    ok(blocking(&state, move |app| app.tokens(&caller.actor, &username)).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    scope: TokenScope,
    expires_in_days: Option<u32>,
}

async fn create_token(
    State(state): State<ServerState>,
    caller: Caller,
    Body(body): Body<NewToken>,
) -> ApiResult {
    if let Via::Token { .. } = caller.identity.via {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "a token cannot make tokens; sign in to make one",
        ));
    }
    let username = caller.identity.username.clone();
    let (secret, view) = blocking(&state, move |app| {
        let expires = body
            .expires_in_days
            .map(|d| app.clock().now() + chrono::Duration::days(i64::from(d)));
        app.create_token(&caller.actor, &username, &body.name, body.scope, expires)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "token": secret.0, "token_info": view })),
    )
        .into_response())
}

async fn revoke_token(
    State(state): State<ServerState>,
    caller: Caller,
    Path(token_id): Path<String>,
) -> ApiResult {
    let username = caller.identity.username.clone();
    blocking(&state, move |app| {
        app.revoke_token(&caller.actor, &username, &token_id)
    })
    .await?;
    ok(json!({"revoked": true}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonParams {
    as_of: Option<NaiveDate>,
    #[serde(default)]
    credit: bool,
    /// A page of the contributions (default the first 50, at most 500).
    offset: Option<usize>,
    limit: Option<usize>,
    /// Which contributions are listed.
    phase: Option<Phase>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    node_id: Option<String>,
    confirmed: Option<bool>,
    retracted: Option<bool>,
    newest_first: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeParams {
    offset: Option<usize>,
    limit: Option<usize>,
    /// Which contributions are listed.
    phase: Option<Phase>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    person_id: Option<String>,
    confirmed: Option<bool>,
    retracted: Option<bool>,
    newest_first: Option<bool>,
}

/// A filter of contributions whose dates make sense.
fn contribution_filter(filter: ContributionFilter) -> Result<ContributionFilter, ApiError> {
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && from > to
    {
        return Err(ApiError::bad_request(format!(
            "from ({from}) is after to ({to})"
        )));
    }
    Ok(filter)
}

async fn person(
    State(state): State<ServerState>,
    caller: Caller,
    Path(person_id): Path<String>,
    Params(params): Params<PersonParams>,
) -> ApiResult {
    let page = page(params.offset, params.limit)?;
    let filter = contribution_filter(ContributionFilter {
        phase: params.phase,
        from: params.from,
        to: params.to,
        node_id: params.node_id,
        person_id: None,
        confirmed: params.confirmed,
        retracted: params.retracted,
        newest_first: params.newest_first.unwrap_or(false),
    })?;
    ok(blocking(&state, move |app| {
        app.person_record_page(
            &caller.actor,
            &person_id,
            params.as_of,
            params.credit,
            &filter,
            page,
        )
    })
    .await?)
}

async fn person_audit(
    State(state): State<ServerState>,
    caller: Caller,
    Path(person_id): Path<String>,
) -> ApiResult {
    let rows = blocking(&state, move |app| app.audit_log(&caller.actor, &person_id)).await?;
    let rows: Vec<_> = rows
        .into_iter()
        .map(|r| json!({"at": r.at, "actor": r.actor, "action": r.action, "detail": r.detail}))
        .collect();
    ok(rows)
}

async fn node(
    State(state): State<ServerState>,
    caller: Caller,
    Path(node_id): Path<String>,
    Params(params): Params<NodeParams>,
) -> ApiResult {
    let page = page(params.offset, params.limit)?;
    let filter = contribution_filter(ContributionFilter {
        phase: params.phase,
        from: params.from,
        to: params.to,
        node_id: None,
        person_id: params.person_id,
        confirmed: params.confirmed,
        retracted: params.retracted,
        newest_first: params.newest_first.unwrap_or(false),
    })?;
    ok(blocking(&state, move |app| {
        app.node_page(&caller.actor, &node_id, &filter, page)
    })
    .await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AsOf {
    as_of: Option<NaiveDate>,
}

async fn unit(
    State(state): State<ServerState>,
    caller: Caller,
    Path(unit_id): Path<String>,
    Params(params): Params<AsOf>,
) -> ApiResult {
    ok(blocking(&state, move |app| {
        app.unit(&caller.actor, &unit_id, params.as_of)
    })
    .await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReorgParams {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    offset: Option<usize>,
    limit: Option<usize>,
}

async fn reorganisations(
    State(state): State<ServerState>,
    caller: Caller,
    Params(params): Params<ReorgParams>,
) -> ApiResult {
    let page = page(params.offset, params.limit)?;
    ok(blocking(&state, move |app| {
        app.reorganisations(&caller.actor, params.from, params.to, page)
    })
    .await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TreeParams {
    q: Option<String>,
    unit_id: Option<String>,
    as_of: Option<NaiveDate>,
}

async fn tree(
    State(state): State<ServerState>,
    caller: Caller,
    Params(params): Params<TreeParams>,
) -> ApiResult {
    let query = valuetree_app::queries::ExploreQuery {
        search: params.q,
        unit_id: params.unit_id,
        as_of: params.as_of,
    };
    ok(blocking(&state, move |app| app.explore_tree(&caller.actor, &query)).await?)
}

async fn reviews_to_write(
    State(state): State<ServerState>,
    caller: Caller,
    Path((cycle_id, person_id)): Path<(String, String)>,
) -> ApiResult {
    ok(blocking(&state, move |app| {
        app.reviews_to_write(&caller.actor, &cycle_id, &person_id)
    })
    .await?)
}

async fn own_review(
    State(state): State<ServerState>,
    caller: Caller,
    Path((cycle_id, person_id)): Path<(String, String)>,
) -> ApiResult {
    ok(blocking(&state, move |app| {
        app.own_review(&caller.actor, &cycle_id, &person_id)
    })
    .await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgParams {
    as_of: Option<NaiveDate>,
    offset: Option<usize>,
    limit: Option<usize>,
}

async fn org(
    State(state): State<ServerState>,
    caller: Caller,
    Params(params): Params<OrgParams>,
) -> ApiResult {
    let page = page(params.offset, params.limit)?;
    ok(blocking(&state, move |app| {
        app.org(&caller.actor, params.as_of, page)
    })
    .await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DiffParams {
    from: NaiveDate,
    to: NaiveDate,
}

async fn org_diff(
    State(state): State<ServerState>,
    caller: Caller,
    Params(params): Params<DiffParams>,
) -> ApiResult {
    ok(blocking(&state, move |app| {
        app.org_diff(&caller.actor, params.from, params.to)
    })
    .await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreditParams {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    person_id: Option<String>,
    node_id: Option<String>,
    #[serde(default)]
    explain: bool,
    #[serde(default)]
    by_node: bool,
    offset: Option<usize>,
    limit: Option<usize>,
}

async fn credit(
    State(state): State<ServerState>,
    caller: Caller,
    Params(params): Params<CreditParams>,
) -> ApiResult {
    let query = CreditQuery {
        from: params.from,
        to: params.to,
        person: params.person_id,
        node: params.node_id,
        explain: params.explain,
        by_node: params.by_node,
        policy: None::<Policy>,
        page: Some(page(params.offset, params.limit)?),
    };
    ok(blocking(&state, move |app| app.credit_report(&caller.actor, &query)).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeriodParams {
    as_of: Option<NaiveDate>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    /// Collaboration only: roll units up to this depth of the unit tree.
    depth: Option<usize>,
}

impl PeriodParams {
    /// Refuses a parameter the diagnostic does not take (a typo must not be ignored).
    fn allow(&self, allowed: &[&str]) -> Result<(), ApiError> {
        for (name, given) in [
            ("as_of", self.as_of.is_some()),
            ("from", self.from.is_some()),
            ("to", self.to.is_some()),
            ("depth", self.depth.is_some()),
        ] {
            if given && !allowed.contains(&name) {
                return Err(ApiError::bad_request(format!(
                    "{name}: this diagnostic takes only {}",
                    allowed.join(", ")
                )));
            }
        }
        Ok(())
    }
}

async fn kept_credit(
    State(state): State<ServerState>,
    caller: Caller,
    Params(params): Params<PeriodParams>,
) -> ApiResult {
    params.allow(&["from", "to"])?;
    let query = KeptQuery {
        from: params.from,
        to: params.to,
    };
    ok(blocking(&state, move |app| app.kept_credit(&caller.actor, &query)).await?)
}

async fn churn(
    State(state): State<ServerState>,
    caller: Caller,
    Params(params): Params<PeriodParams>,
) -> ApiResult {
    params.allow(&["as_of"])?;
    ok(blocking(&state, move |app| app.churn(&caller.actor, params.as_of)).await?)
}

async fn collaboration(
    State(state): State<ServerState>,
    caller: Caller,
    Params(params): Params<PeriodParams>,
) -> ApiResult {
    let query = CollaborationQuery {
        as_of: params.as_of,
        from: params.from,
        to: params.to,
        depth: params.depth,
    };
    ok(blocking(&state, move |app| app.collaboration(&caller.actor, &query)).await?)
}

async fn tree_health(
    State(state): State<ServerState>,
    caller: Caller,
    Params(params): Params<PeriodParams>,
) -> ApiResult {
    params.allow(&["as_of", "from", "to"])?;
    let query = TreeHealthQuery {
        as_of: params.as_of,
        from: params.from,
        to: params.to,
    };
    ok(blocking(&state, move |app| app.tree_health(&caller.actor, &query)).await?)
}

async fn rating_anomalies(
    State(state): State<ServerState>,
    caller: Caller,
    Path(cycle_id): Path<String>,
) -> ApiResult {
    ok(blocking(&state, move |app| {
        app.rating_anomalies(&caller.actor, &cycle_id)
    })
    .await?)
}

async fn cycles(State(state): State<ServerState>, caller: Caller) -> ApiResult {
    ok(blocking(&state, move |app| app.cycles(&caller.actor)).await?)
}

async fn cycle(
    State(state): State<ServerState>,
    caller: Caller,
    Path(cycle_id): Path<String>,
) -> ApiResult {
    ok(blocking(&state, move |app| app.cycle(&caller.actor, &cycle_id)).await?)
}

async fn session(
    State(state): State<ServerState>,
    caller: Caller,
    Path(cycle_id): Path<String>,
) -> ApiResult {
    ok(blocking(&state, move |app| app.session(&caller.actor, &cycle_id)).await?)
}

async fn final_scores(
    State(state): State<ServerState>,
    caller: Caller,
    Path(cycle_id): Path<String>,
) -> ApiResult {
    ok(blocking(&state, move |app| {
        app.final_scores(&caller.actor, &cycle_id, None)
    })
    .await?)
}

async fn feedback(
    State(state): State<ServerState>,
    caller: Caller,
    Path((cycle_id, person_id)): Path<(String, String)>,
) -> ApiResult {
    ok(blocking(&state, move |app| {
        app.feedback(&caller.actor, &cycle_id, &person_id)
    })
    .await?)
}

async fn cycle_record(
    State(state): State<ServerState>,
    caller: Caller,
    Path((cycle_id, person_id)): Path<(String, String)>,
) -> ApiResult {
    ok(blocking(&state, move |app| {
        app.cycle_record(&caller.actor, &cycle_id, &person_id)
    })
    .await?)
}

async fn reviewers(
    State(state): State<ServerState>,
    caller: Caller,
    Path((cycle_id, person_id)): Path<(String, String)>,
    Params(paging): Params<Paging>,
) -> ApiResult {
    let limit = page(
        paging.offset,
        paging
            .limit
            .or(Some(valuetree_app::queries::REVIEWERS_SUGGESTED)),
    )?
    .limit;
    ok(blocking(&state, move |app| {
        app.reviewers(&caller.actor, &cycle_id, &person_id, limit)
    })
    .await?)
}

async fn policy(
    State(state): State<ServerState>,
    caller: Caller,
    Path(kind): Path<String>,
) -> ApiResult {
    let kind: PolicyKind = kind
        .parse()
        .map_err(|e: valuetree_core::domain::UnknownValue| ApiError::bad_request(e.to_string()))?;
    ok(blocking(&state, move |app| app.policy(&caller.actor, kind)).await?)
}

async fn head(State(state): State<ServerState>, caller: Caller) -> ApiResult {
    let head = blocking(&state, move |app| app.head(&caller.actor)).await?;
    ok(json!({
        "seq": head.as_ref().map(|h| h.seq),
        "hash": head.as_ref().map(|h| h.hash.clone()),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContributionBody {
    contribution_id: Option<String>,
    person_id: Option<String>,
    node_id: String,
    phase: Phase,
    date: Option<NaiveDate>,
    #[serde(deserialize_with = "crate::amount")]
    effort: Amount,
    #[serde(default)]
    description: String,
    evidence: Option<String>,
}

async fn record_contribution(
    State(state): State<ServerState>,
    caller: Caller,
    Body(body): Body<ContributionBody>,
) -> ApiResult {
    let new = NewContribution {
        contribution_id: body.contribution_id,
        person_id: body.person_id,
        node_id: body.node_id,
        phase: body.phase,
        date: body.date,
        effort: body.effort.value(),
        description: body.description,
        evidence: body.evidence,
    };
    record(&state, move |app| {
        app.record_contribution(&caller.actor, new)
    })
    .await
}

async fn confirm_contribution(
    State(state): State<ServerState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    record(&state, move |app| {
        app.confirm_contribution(&caller.actor, &id)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reason {
    reason: String,
}

async fn unconfirm_contribution(
    State(state): State<ServerState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<Reason>,
) -> ApiResult {
    record(&state, move |app| {
        app.unconfirm_contribution(&caller.actor, &id, &body.reason)
    })
    .await
}

async fn retract_contribution(
    State(state): State<ServerState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<Reason>,
) -> ApiResult {
    record(&state, move |app| {
        app.retract_contribution(&caller.actor, &id, &body.reason)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutcomeBody {
    outcome_id: String,
    node_id: String,
    date: NaiveDate,
    #[serde(deserialize_with = "crate::amount")]
    value: Amount,
    #[serde(default)]
    description: String,
    evidence: Option<String>,
}

async fn record_outcome(
    State(state): State<ServerState>,
    caller: Caller,
    Body(body): Body<OutcomeBody>,
) -> ApiResult {
    let outcome = OutcomeRecord {
        date: body.date,
        description: body.description,
        evidence: body.evidence,
        node_id: body.node_id,
        outcome_id: body.outcome_id,
        value: body.value,
    };
    record(&state, move |app| {
        app.record_outcome(&caller.actor, outcome)
    })
    .await
}
