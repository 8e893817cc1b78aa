//! The API's writes besides contributions and outcomes: the value tree (nodes, links,
//! members, hand-overs, flagpoles), review cycles, roles, policies, imports and the ledger's
//! administration. Each body names its fields as the CSV files and the ledger do, refuses an
//! unknown field, and leaves every decision to the app.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::{Body, ServerState, blocking, record};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use valuetree_app::commands::calibration::CalibrationModel;
use valuetree_app::commands::review::NewRating;
use valuetree_app::commands::work::NewFlagpole;
use valuetree_core::domain::{
    EdgeRecord, JoinStatus, MemberRecord, NodeKind, NodeRecord, NodeStatus, PolicyKind,
    Relationship, Role,
};
use valuetree_core::review::{
    BehaviourAssessment, Circle, CyclePhase, GoalRecord, KeyResult, Measurement, ReviewerChange,
    SelfReviewEntry,
};
use valuetree_core::{Amount, NaiveDate};

type ApiResult = Result<Response, ApiError>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeBody {
    node_id: String,
    kind: NodeKind,
    title: String,
    lead_id: Option<String>,
    created_on: Option<NaiveDate>,
    status: Option<NodeStatus>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    roles_wanted: Vec<String>,
    serves_id: Option<String>,
}

pub async fn create_node(
    State(state): State<ServerState>,
    caller: Caller,
    Body(body): Body<NodeBody>,
) -> ApiResult {
    record(&state, move |app| {
        let node = NodeRecord {
            created_on: body.created_on.unwrap_or_else(|| app.today()),
            description: body.description,
            flagpole: false,
            kind: body.kind,
            lead_id: body.lead_id,
            node_id: body.node_id,
            roles_wanted: body.roles_wanted,
            serves_id: body.serves_id,
            status: body.status.unwrap_or(NodeStatus::Active),
            title: body.title,
        };
        app.create_node(&caller.actor, node)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeUpdate {
    title: Option<String>,
    description: Option<String>,
    status: Option<NodeStatus>,
    roles_wanted: Option<Vec<String>>,
}

pub async fn update_node(
    State(state): State<ServerState>,
    caller: Caller,
    Path(node_id): Path<String>,
    Body(body): Body<NodeUpdate>,
) -> ApiResult {
    record(&state, move |app| {
        // The node as recorded, with the fields the body changes; the app decides.
        let snapshot = app.snapshot()?;
        let mut node = snapshot
            .state
            .nodes
            .get(&node_id)
            .cloned()
            .ok_or_else(|| valuetree_app::AppError::not_found(format!("node {node_id}"), ""))?;
        if let Some(title) = body.title {
            node.title = title;
        }
        if let Some(description) = body.description {
            node.description = description;
        }
        if let Some(roles) = body.roles_wanted {
            node.roles_wanted = roles;
        }
        app.update_node(&caller.actor, node, body.status)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    parent_id: String,
    child_id: String,
    #[serde(default, deserialize_with = "crate::optional_amount")]
    weight: Option<Amount>,
    valid_from: Option<NaiveDate>,
}

pub async fn link(
    State(state): State<ServerState>,
    caller: Caller,
    Body(body): Body<LinkBody>,
) -> ApiResult {
    let weight = body.weight.unwrap_or(Amount(1.0));
    let edge = EdgeRecord {
        child_id: body.child_id,
        parent_id: body.parent_id,
        valid_from: body.valid_from,
        valid_to: None,
        weight,
    };
    record(&state, move |app| app.link(&caller.actor, edge)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnlinkBody {
    parent_id: String,
    child_id: String,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
}

pub async fn unlink(
    State(state): State<ServerState>,
    caller: Caller,
    Body(body): Body<UnlinkBody>,
) -> ApiResult {
    record(&state, move |app| {
        app.unlink(
            &caller.actor,
            &body.parent_id,
            &body.child_id,
            body.valid_from,
            body.valid_to,
        )
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberBody {
    person_id: String,
    role: String,
    joined_on: Option<NaiveDate>,
}

pub async fn add_member(
    State(state): State<ServerState>,
    caller: Caller,
    Path(node_id): Path<String>,
    Body(body): Body<MemberBody>,
) -> ApiResult {
    record(&state, move |app| {
        let member = MemberRecord {
            joined_on: body.joined_on.unwrap_or_else(|| app.today()),
            left_on: None,
            node_id,
            person_id: body.person_id,
            role: body.role,
        };
        app.join(&caller.actor, member)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaveBody {
    person_id: Option<String>,
    left_on: Option<NaiveDate>,
}

pub async fn leave(
    State(state): State<ServerState>,
    caller: Caller,
    Path(node_id): Path<String>,
    Body(body): Body<LeaveBody>,
) -> ApiResult {
    record(&state, move |app| {
        app.leave(
            &caller.actor,
            &node_id,
            body.person_id.as_deref(),
            body.left_on,
        )
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandOverBody {
    to_lead_id: String,
    date: Option<NaiveDate>,
    #[serde(default)]
    note: String,
}

pub async fn hand_over(
    State(state): State<ServerState>,
    caller: Caller,
    Path(node_id): Path<String>,
    Body(body): Body<HandOverBody>,
) -> ApiResult {
    record(&state, move |app| {
        app.hand_over(
            &caller.actor,
            &node_id,
            &body.to_lead_id,
            body.date,
            &body.note,
        )
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagpoleBody {
    node_id: String,
    title: String,
    #[serde(default)]
    description: String,
    serves_id: String,
    #[serde(default)]
    roles_wanted: Vec<String>,
}

pub async fn raise_flagpole(
    State(state): State<ServerState>,
    caller: Caller,
    Body(body): Body<FlagpoleBody>,
) -> ApiResult {
    let flagpole = NewFlagpole {
        node_id: body.node_id,
        title: body.title,
        description: body.description,
        serves_id: body.serves_id,
        roles_wanted: body.roles_wanted,
    };
    record(&state, move |app| {
        app.raise_flagpole(&caller.actor, flagpole)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRequestBody {
    role: String,
    #[serde(default)]
    message: String,
}

pub async fn ask_to_join(
    State(state): State<ServerState>,
    caller: Caller,
    Path(node_id): Path<String>,
    Body(body): Body<JoinRequestBody>,
) -> ApiResult {
    record(&state, move |app| {
        app.ask_to_join(&caller.actor, &node_id, None, &body.role, &body.message)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    status: JoinStatus,
}

pub async fn answer_join(
    State(state): State<ServerState>,
    caller: Caller,
    Path((node_id, person_id)): Path<(String, String)>,
    Body(body): Body<AnswerBody>,
) -> ApiResult {
    record(&state, move |app| {
        app.answer_join(&caller.actor, &node_id, &person_id, body.status)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    person_id: String,
    role: Role,
}

pub async fn grant_role(
    State(state): State<ServerState>,
    caller: Caller,
    Body(body): Body<RoleBody>,
) -> ApiResult {
    record(&state, move |app| {
        app.grant_role(&caller.actor, &body.person_id, body.role)
    })
    .await
}

pub async fn revoke_role(
    State(state): State<ServerState>,
    caller: Caller,
    Body(body): Body<RoleBody>,
) -> ApiResult {
    record(&state, move |app| {
        app.revoke_role(&caller.actor, &body.person_id, body.role)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EraseBody {
    reason: String,
}

/// Erases a person's personal data (docs/privacy.md): the same rule as `valuetree erase`
/// (HR and admin together, or the operator's token), one transaction, irreversible.
pub async fn erase_person(
    State(state): State<ServerState>,
    caller: Caller,
    Path(person_id): Path<String>,
    Body(body): Body<EraseBody>,
) -> ApiResult {
    let receipt = crate::blocking(&state, move |app| {
        app.erase_person(&caller.actor, &person_id, &body.reason)
    })
    .await?;
    Ok(axum::response::IntoResponse::into_response((
        axum::http::StatusCode::CREATED,
        axum::Json(receipt),
    )))
}

/// A policy as TOML text (the body is the file's content).
pub async fn set_policy(
    State(state): State<ServerState>,
    caller: Caller,
    Path(kind): Path<String>,
    text: String,
) -> ApiResult {
    let kind: PolicyKind = kind
        .parse()
        .map_err(|e: valuetree_core::domain::UnknownValue| ApiError::bad_request(e.to_string()))?;
    record(&state, move |app| {
        app.set_policy(&caller.actor, kind, "the request body", &text)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CycleBody {
    cycle_id: String,
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    name: Option<String>,
    /// Settings as TOML text, as `valuetree cycle open --settings` reads them.
    settings: Option<String>,
}

pub async fn open_cycle(
    State(state): State<ServerState>,
    caller: Caller,
    Body(body): Body<CycleBody>,
) -> ApiResult {
    record(&state, move |app| {
        let cycle = valuetree_app::settings::cycle_record(
            &body.cycle_id,
            body.starts_on,
            body.ends_on,
            body.name,
            body.settings.as_deref().map(|t| ("settings", t)),
        )?;
        app.open_cycle(&caller.actor, cycle)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseBody {
    phase: CyclePhase,
    on: Option<NaiveDate>,
}

pub async fn move_cycle(
    State(state): State<ServerState>,
    caller: Caller,
    Path(cycle_id): Path<String>,
    Body(body): Body<PhaseBody>,
) -> ApiResult {
    record(&state, move |app| {
        app.move_cycle(&caller.actor, &cycle_id, body.phase, body.on)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrateBody {
    dimension: Option<String>,
    /// `full` (default), `plain`, `ordinal` or `ordinal-plain` (docs/calibration.md).
    model: Option<String>,
    /// The older way to ask for `plain`.
    #[serde(default)]
    plain: bool,
}

pub async fn calibrate(
    State(state): State<ServerState>,
    caller: Caller,
    Path(cycle_id): Path<String>,
    Body(body): Body<CalibrateBody>,
) -> ApiResult {
    let model = match (&body.model, body.plain) {
        (Some(name), _) => CalibrationModel::from_name(name).ok_or_else(|| {
            valuetree_app::AppError::invalid(format!(
                "model: `{name}` is not a calibration model; use one of {}",
                CalibrationModel::ALL
                    .map(CalibrationModel::as_str)
                    .join(", ")
            ))
        })?,
        (None, true) => CalibrationModel::Plain,
        (None, false) => CalibrationModel::Full,
    };
    let (report, receipt) = blocking(&state, move |app| {
        app.calibrate_cycle(&caller.actor, &cycle_id, body.dimension.as_deref(), model)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"receipt": receipt, "calibration": report})),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingBody {
    ratee_id: String,
    rater_id: Option<String>,
    relationship: Relationship,
    dimension: String,
    #[serde(deserialize_with = "crate::amount")]
    score: Amount,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    draft: bool,
}

pub async fn rate(
    State(state): State<ServerState>,
    caller: Caller,
    Path(cycle_id): Path<String>,
    Body(body): Body<RatingBody>,
) -> ApiResult {
    let rating = NewRating {
        cycle_id,
        rater_id: body.rater_id,
        ratee_id: body.ratee_id,
        relationship: body.relationship,
        dimension: body.dimension,
        score: body.score,
        comment: body.comment,
        draft: body.draft,
    };
    record(&state, move |app| app.rate(&caller.actor, rating)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewerBody {
    reviewer_id: String,
    #[serde(default)]
    reason: String,
}

async fn change_reviewer(
    state: ServerState,
    caller: Caller,
    cycle_id: String,
    ratee_id: String,
    body: ReviewerBody,
    add: bool,
) -> ApiResult {
    let change = ReviewerChange {
        // Left empty: the app records the signed-in person as the one who chose.
        by: String::new(),
        cycle_id,
        ratee_id,
        reason: body.reason,
        reviewer_id: body.reviewer_id,
    };
    record(&state, move |app| {
        app.change_reviewer(&caller.actor, change, add)
    })
    .await
}

pub async fn add_reviewer(
    State(state): State<ServerState>,
    caller: Caller,
    Path((cycle_id, ratee_id)): Path<(String, String)>,
    Body(body): Body<ReviewerBody>,
) -> ApiResult {
    change_reviewer(state, caller, cycle_id, ratee_id, body, true).await
}

pub async fn remove_reviewer(
    State(state): State<ServerState>,
    caller: Caller,
    Path((cycle_id, ratee_id)): Path<(String, String)>,
    Body(body): Body<ReviewerBody>,
) -> ApiResult {
    change_reviewer(state, caller, cycle_id, ratee_id, body, false).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyResultBody {
    metric: String,
    #[serde(deserialize_with = "crate::amount")]
    target: Amount,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoalBody {
    goal_id: String,
    person_id: String,
    node_id: String,
    title: String,
    #[serde(default)]
    key_results: Vec<KeyResultBody>,
}

pub async fn set_goal(
    State(state): State<ServerState>,
    caller: Caller,
    Path(cycle_id): Path<String>,
    Body(body): Body<GoalBody>,
) -> ApiResult {
    let key_results = body
        .key_results
        .iter()
        .map(|k| {
            Ok(KeyResult {
                metric: k.metric.clone(),
                target: k.target,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let goal = GoalRecord {
        cycle_id,
        goal_id: body.goal_id,
        key_results,
        node_id: body.node_id,
        person_id: body.person_id,
        title: body.title,
    };
    record(&state, move |app| app.set_goal(&caller.actor, goal)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasureBody {
    metric: String,
    #[serde(deserialize_with = "crate::amount")]
    actual: Amount,
    measured_on: Option<NaiveDate>,
}

pub async fn measure(
    State(state): State<ServerState>,
    caller: Caller,
    Path((_cycle_id, goal_id)): Path<(String, String)>,
    Body(body): Body<MeasureBody>,
) -> ApiResult {
    let actual = body.actual;
    record(&state, move |app| {
        let m = Measurement {
            actual,
            goal_id,
            measured_on: body.measured_on.unwrap_or_else(|| app.today()),
            metric: body.metric,
        };
        app.measure(&caller.actor, m)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfReviewBody {
    person_id: String,
    circle: Circle,
    contribution_id: String,
    #[serde(default)]
    text: String,
    entry_id: Option<String>,
}

pub async fn link_self_review(
    State(state): State<ServerState>,
    caller: Caller,
    Path(cycle_id): Path<String>,
    Body(body): Body<SelfReviewBody>,
) -> ApiResult {
    let entry = SelfReviewEntry {
        entry_id: body
            .entry_id
            .unwrap_or_else(|| format!("{}:{}", body.circle, body.contribution_id)),
        circle: body.circle,
        contribution_id: body.contribution_id,
        cycle_id,
        person_id: body.person_id,
        text: body.text,
    };
    record(&state, move |app| {
        app.link_self_review(&caller.actor, entry)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BehaviourBody {
    person_id: String,
    value: String,
    behaviour: String,
    met: bool,
    #[serde(default)]
    evidence: String,
}

pub async fn assess_behaviour(
    State(state): State<ServerState>,
    caller: Caller,
    Path(cycle_id): Path<String>,
    Body(body): Body<BehaviourBody>,
) -> ApiResult {
    let assessment = BehaviourAssessment {
        // Left empty: the app records the signed-in person as the assessor.
        assessed_by: String::new(),
        behaviour: body.behaviour,
        cycle_id,
        evidence: body.evidence,
        met: body.met,
        person_id: body.person_id,
        value: body.value,
    };
    record(&state, move |app| {
        app.assess_behaviour(&caller.actor, assessment)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideBody {
    person_id: String,
    #[serde(deserialize_with = "crate::amount")]
    score: Amount,
    reason: String,
    #[serde(default)]
    dimension: String,
}

pub async fn override_score(
    State(state): State<ServerState>,
    caller: Caller,
    Path(cycle_id): Path<String>,
    Body(body): Body<OverrideBody>,
) -> ApiResult {
    let score = body.score;
    record(&state, move |app| {
        app.override_score(
            &caller.actor,
            &cycle_id,
            &body.person_id,
            &body.dimension,
            score,
            &body.reason,
            None,
        )
    })
    .await
}

pub async fn apply_quota(
    State(state): State<ServerState>,
    caller: Caller,
    Path(cycle_id): Path<String>,
) -> ApiResult {
    record(&state, move |app| {
        app.apply_quota(&caller.actor, &cycle_id, None)
    })
    .await
}

/// A CSV file of one kind (the body), imported as the command line would: atomic, every bad
/// row named with its line.
pub async fn import(
    State(state): State<ServerState>,
    caller: Caller,
    Path(kind): Path<String>,
    body: Bytes,
) -> ApiResult {
    let kind: valuetree_exchange::Kind =
        kind.parse().map_err(|e: String| ApiError::bad_request(e))?;
    let label = format!("{}.csv", kind);
    // Rows that parse are checked too: the answer lists every bad row at once.
    let (batch, parse_errors) =
        valuetree_exchange::parse_csv_rows(kind, body.as_ref()).map_err(|errors| {
            let fields: Vec<serde_json::Value> = errors
            .iter()
            .take(valuetree_store_limit())
            .map(|e| json!({"file": label, "line": e.line, "field": e.column, "reason": e.reason}))
            .collect();
            ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "rejected",
                message: format!("{} bad row(s); nothing was imported", errors.len()),
                details: json!({ "fields": fields }),
            }
        })?;
    let name = format!("{}.csv", kind);
    let summary = blocking(&state, move |app| {
        app.import_files(
            &caller.actor,
            vec![(
                name,
                if parse_errors.is_empty() {
                    valuetree_store::ImportSource::Whole(batch)
                } else {
                    valuetree_store::ImportSource::Partly(batch, parse_errors)
                },
            )],
            |_| {},
        )
    })
    .await?;
    Ok((
        StatusCode::OK,
        Json(json!({
            "rows": summary.rows,
            "events": summary.events,
            "unchanged": summary.unchanged,
            "head": summary.head.map(|h| h.to_string()),
        })),
    )
        .into_response())
}

/// Reads a reorganisation plan from a request body; a bad row is a 422 naming every one.
fn plan_rows(body: &[u8]) -> Result<Vec<valuetree_core::diagnose::PlanRow>, ApiError> {
    valuetree_exchange::plan::parse_plan(body).map_err(|errors| {
        let fields: Vec<serde_json::Value> = errors
            .iter()
            .take(valuetree_store_limit())
            .map(|e| json!({"file": "plan.csv", "line": e.line, "field": e.column, "reason": e.reason}))
            .collect();
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "rejected",
            message: format!("{} bad row(s) in the plan", errors.len()),
            details: json!({ "fields": fields }),
        }
    })
}

pub async fn whatif(State(state): State<ServerState>, caller: Caller, body: Bytes) -> ApiResult {
    let rows = plan_rows(&body)?;
    let report = blocking(&state, move |app| {
        app.whatif(&caller.actor, &rows, "plan.csv", false)
    })
    .await?;
    Ok((StatusCode::OK, Json(report)).into_response())
}

pub async fn whatif_apply(
    State(state): State<ServerState>,
    caller: Caller,
    body: Bytes,
) -> ApiResult {
    let rows = plan_rows(&body)?;
    let report = blocking(&state, move |app| {
        app.whatif(&caller.actor, &rows, "plan.csv", true)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(report)).into_response())
}

fn valuetree_store_limit() -> usize {
    valuetree_store::MAX_LISTED_ERRORS
}

/// Lines of the export gathered into one chunk of the answer.
const EXPORT_CHUNK: usize = 256 << 10;

/// The whole ledger as JSON Lines (administrators), streamed as it is read (a large ledger
/// is gigabytes: never held in memory); recorded as `ledger_exported` once all of it was
/// read (a client that goes away before then stops the export, and nothing is recorded).
pub async fn export(State(state): State<ServerState>, caller: Caller) -> ApiResult {
    let actor = caller.actor.clone();
    blocking(&state, move |app| app.may_export(&actor)).await?;
    let (send, mut receive) =
        tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(8);
    let app = state.app.clone();
    tokio::task::spawn_blocking(move || {
        let mut chunk = Vec::with_capacity(EXPORT_CHUNK + 4096);
        let gone = || std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away");
        let result = app.export_events(&caller.actor, &mut |event| {
            use std::io::Write;
            writeln!(chunk, "{}", event.export_line())?;
            if chunk.len() >= EXPORT_CHUNK {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(EXPORT_CHUNK + 4096));
                send.blocking_send(Ok(full.into())).map_err(|_| gone())?;
            }
            Ok(())
        });
        // A failure ends the stream with an error, which breaks the answer off so that the
        // client sees it is incomplete.
        let last = match result {
            Ok(_) if !chunk.is_empty() => Some(Ok(chunk.into())),
            Ok(_) => None,
            Err(e) => {
                tracing::error!(error = %e, "the ledger export stopped");
                Some(Err(std::io::Error::other(
                    "the export stopped; see the server's log",
                )))
            }
        };
        if let Some(last) = last {
            let _ = send.blocking_send(last);
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| receive.poll_recv(cx));
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/x-ndjson"),
    );
    Ok((
        StatusCode::OK,
        headers,
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

/// Checks the hash chain and the projections (administrators).
pub async fn verify(State(state): State<ServerState>, caller: Caller) -> ApiResult {
    let report = blocking(&state, move |app| {
        app.verify(&caller.actor, None, false, &mut |_| {})
    })
    .await?;
    Ok(Json(report).into_response())
}
