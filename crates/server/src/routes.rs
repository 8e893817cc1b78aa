//! The routes of the JSON API. Names follow the CSV columns (`person_id`, `node_id`, `phase`,
//! `date`, `effort`, …), so that a file row and a JSON body read the same.

use crate::auth::{Caller, SESSION_COOKIE, client_address, same_origin};
use crate::error::ApiError;
use crate::{Body, Params, ServerState, blocking};
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Deserializer};
use serde_json::json;
use valuetree_app::accounts::{TokenScope, Via};
use valuetree_app::commands::work::NewContribution;
use valuetree_app::queries::CreditQuery;
use valuetree_app::{Page, Receipt};
use valuetree_core::NaiveDate;
use valuetree_core::domain::{OutcomeRecord, Phase, PolicyKind};
use valuetree_core::{Amount, credit::Policy};

pub fn routes() -> Router<ServerState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/me", get(me))
        .route("/api/password", post(change_password))
        .route("/api/tokens", get(list_tokens).post(create_token))
        .route(
            "/api/tokens/{token_id}",
            axum::routing::delete(revoke_token),
        )
        .route("/api/people/{person_id}", get(person))
        .route("/api/people/{person_id}/audit", get(person_audit))
        .route("/api/nodes/{node_id}", get(node))
        .route("/api/units/{unit_id}", get(unit))
        .route("/api/org", get(org))
        .route("/api/org/diff", get(org_diff))
        .route("/api/credit", get(credit))
        .route("/api/cycles", get(cycles))
        .route("/api/cycles/{cycle_id}", get(cycle))
        .route("/api/cycles/{cycle_id}/session", get(session))
        .route("/api/cycles/{cycle_id}/final", get(final_scores))
        .route("/api/cycles/{cycle_id}/feedback/{person_id}", get(feedback))
        .route(
            "/api/cycles/{cycle_id}/record/{person_id}",
            get(cycle_record),
        )
        .route(
            "/api/cycles/{cycle_id}/reviewers/{person_id}",
            get(reviewers),
        )
        .route("/api/policies/{kind}", get(policy))
        .route("/api/ledger/head", get(head))
        .route("/api/contributions", post(record_contribution))
        .route(
            "/api/contributions/{contribution_id}/confirm",
            post(confirm_contribution),
        )
        .route(
            "/api/contributions/{contribution_id}/unconfirm",
            post(unconfirm_contribution),
        )
        .route(
            "/api/contributions/{contribution_id}/retract",
            post(retract_contribution),
        )
        .route("/api/outcomes", post(record_outcome))
}

type ApiResult = Result<Response, ApiError>;

fn ok<T: serde::Serialize>(value: T) -> ApiResult {
    Ok(Json(value).into_response())
}

/// A write's answer: 201 with the receipt, or 200 when it had been recorded before.
fn written(receipt: Receipt) -> ApiResult {
    let status = if receipt.already_recorded {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(receipt)).into_response())
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

fn session_cookie_header(state: &ServerState, value: &str, max_age: Option<i64>) -> HeaderValue {
    let mut cookie = format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    if state.config.secure_cookies() {
        cookie.push_str("; Secure");
    }
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

async fn me_json(
    state: &ServerState,
    caller_identity: valuetree_app::accounts::Identity,
) -> ApiResult {
    let identity = caller_identity.clone();
    let actor = blocking(state, move |app| app.actor_of(&identity)).await?;
    let roles: Vec<&str> = match &actor {
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
    let mut response = me_json(&state, identity).await?;
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

async fn me(State(state): State<ServerState>, caller: Caller) -> ApiResult {
    me_json(&state, caller.identity).await
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
    let identity = caller.identity.clone();
    blocking(&state, move |app| {
        app.login(&identity.username, &body.current_password, &client)
            .and_then(|(secret, fresh)| {
                app.logout(&fresh)?;
                drop(secret);
                app.set_password(
                    &caller.actor,
                    &identity.username,
                    &body.new_password,
                    Some(&identity),
                )
            })
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
}

async fn person(
    State(state): State<ServerState>,
    caller: Caller,
    Path(person_id): Path<String>,
    Params(params): Params<PersonParams>,
) -> ApiResult {
    ok(blocking(&state, move |app| {
        app.person_record(&caller.actor, &person_id, params.as_of, params.credit)
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
) -> ApiResult {
    ok(blocking(&state, move |app| app.node(&caller.actor, &node_id)).await?)
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
    let limit = page(paging.offset, paging.limit.or(Some(8)))?.limit;
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

/// An amount given as a JSON number or as a decimal string.
fn amount<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Number(f64),
        Text(String),
    }
    let value = match NumberOrText::deserialize(deserializer)? {
        NumberOrText::Number(n) => Amount::parse(&n.to_string()),
        NumberOrText::Text(t) => Amount::parse(&t),
    };
    value.map(Amount::value).map_err(serde::de::Error::custom)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContributionBody {
    contribution_id: Option<String>,
    person_id: Option<String>,
    node_id: String,
    phase: Phase,
    date: Option<NaiveDate>,
    #[serde(deserialize_with = "amount")]
    effort: f64,
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
        effort: body.effort,
        description: body.description,
        evidence: body.evidence,
    };
    written(
        blocking(&state, move |app| {
            app.record_contribution(&caller.actor, new)
        })
        .await?,
    )
}

async fn confirm_contribution(
    State(state): State<ServerState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    written(
        blocking(&state, move |app| {
            app.confirm_contribution(&caller.actor, &id)
        })
        .await?,
    )
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
    written(
        blocking(&state, move |app| {
            app.unconfirm_contribution(&caller.actor, &id, &body.reason)
        })
        .await?,
    )
}

async fn retract_contribution(
    State(state): State<ServerState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<Reason>,
) -> ApiResult {
    written(
        blocking(&state, move |app| {
            app.retract_contribution(&caller.actor, &id, &body.reason)
        })
        .await?,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutcomeBody {
    outcome_id: String,
    node_id: String,
    date: NaiveDate,
    #[serde(deserialize_with = "amount")]
    value: f64,
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
        value: Amount(body.value),
    };
    written(
        blocking(&state, move |app| {
            app.record_outcome(&caller.actor, outcome)
        })
        .await?,
    )
}
