//! Who may do what: the one place that decides. Every query and command of this crate asks
//! here before it reads private data or appends an event; the faces (command line, server,
//! web pages) never decide themselves. The matrix is written down in docs/security.md, with
//! the rule names these functions give in their refusals.
//!
//! Deny by default: each function lists who is allowed and refuses everyone else. The
//! relations (manager, former manager, lead, committee member) are read from the ledger's
//! state, as of the day of the request. The replay rules in core check only data integrity,
//! so that a later change of this policy never makes an old ledger unreplayable.

use crate::actor::Actor;
use crate::error::AppError;
use valuetree_core::NaiveDate;
use valuetree_core::domain::Role;
use valuetree_core::state::State;

/// Rule names, as refusals and docs/security.md give them.
pub mod rule {
    pub const OWN_WORK_ONLY: &str = "own-work-only";
    pub const LEAD_CONFIRMS: &str = "lead-confirms";
    pub const NO_SELF_CONFIRMATION: &str = "no-self-confirmation";
    pub const LEAD_OR_CONTRIBUTOR_RETRACTS: &str = "lead-or-contributor-retracts";
    pub const LEAD_RECORDS_OUTCOMES: &str = "lead-records-outcomes";
    pub const LEAD_MANAGES_NODE: &str = "lead-manages-node";
    pub const TOP_OF_TREE_IS_ADMINISTERED: &str = "top-of-tree-is-administered";
    pub const PARENT_LEAD_LINKS: &str = "parent-lead-links";
    pub const LEAD_ANSWERS_JOIN: &str = "lead-answers-join";
    pub const PRIVATE_PERFORMANCE_DATA: &str = "private-performance-data";
    pub const FORMER_MANAGER_PERIOD: &str = "former-manager-period";
    pub const OWN_RATINGS_ONLY: &str = "raters-rate-as-themselves";
    pub const COMMITTEE_OVERRIDES: &str = "committee-overrides";
    pub const HR_RUNS_CYCLES: &str = "hr-runs-cycles";
    pub const HR_SETS_POLICIES: &str = "hr-sets-policies";
    pub const REVIEWERS_BY_PERSON_OR_MANAGER: &str = "reviewers-by-person-or-manager";
    pub const GOALS_BY_PERSON_OR_MANAGER: &str = "goals-by-person-or-manager";
    pub const VALUES_BY_MANAGER: &str = "values-assessed-by-manager-or-hr";
    pub const ADMIN_ADMINISTERS: &str = "admin-administers";
    pub const ORGANISATION_WIDE_VIEWS: &str = "organisation-wide-views-are-hr";
    pub const SIGNED_IN: &str = "signed-in-employee";
    pub const DIAGNOSTICS_ARE_HR: &str = "diagnostics-are-hr";
    pub const REORGANISATIONS_BY_HR_OR_ADMIN: &str = "reorganisations-by-hr-or-admin";
    pub const ERASURE_BY_HR_ADMIN: &str = "erasure-by-hr-and-admin";
}

type Decision = Result<(), AppError>;

fn allow_if(condition: bool, rule: &'static str, reason: impl FnOnce() -> String) -> Decision {
    if condition {
        Ok(())
    } else {
        Err(AppError::forbidden(rule, reason()))
    }
}

/// The operator, or a person holding `role`.
fn operator_or(actor: &Actor, role: Role) -> bool {
    actor.is_operator() || actor.has_role(role)
}

/// Anyone signed in who is (or was) a person of the ledger may read the work: the value
/// tree, nodes, contributions, outcomes, the org chart. The operator too.
pub fn read_work(actor: &Actor) -> Decision {
    match actor {
        Actor::Operator | Actor::Service { .. } => Ok(()),
        Actor::Person { .. } => Ok(()),
    }
}

/// The person's manager today (or on their last day, if they left).
pub fn current_manager(state: &State, subject: &str, today: NaiveDate) -> Option<String> {
    crate::queries::placement_until(state, subject, today).and_then(|p| p.manager_id)
}

/// The spans (first and last day) in which `manager` managed `subject`.
pub fn managed_spans(
    state: &State,
    manager: &str,
    subject: &str,
) -> Vec<(NaiveDate, Option<NaiveDate>)> {
    let range = (subject.to_string(), NaiveDate::MIN)..=(subject.to_string(), NaiveDate::MAX);
    state
        .assignments
        .range(range)
        .map(|(_, a)| a)
        .filter(|a| a.record.manager_id.as_deref() == Some(manager))
        .map(|a| (a.record.valid_from, a.valid_to))
        .collect()
}

/// Whether `manager` managed `subject` on some day of `[from, to]`.
pub fn managed_during(
    state: &State,
    manager: &str,
    subject: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> bool {
    managed_spans(state, manager, subject)
        .iter()
        .any(|(start, end)| *start <= to && end.is_none_or(|end| from <= end))
}

fn on_committee(state: &State, actor: &Actor, cycle_id: &str) -> bool {
    actor.person_id().is_some_and(|me| {
        state
            .reviews
            .cycles
            .get(cycle_id)
            .is_some_and(|c| c.record.committee.iter().any(|m| m == me))
    })
}

/// How much of a person's private performance data (ratings, feedback, scores, credit) an
/// actor may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrivateAccess {
    /// Everything: the operator, HR, the person's current manager.
    Full,
    /// The person themself: their own data, with peer feedback only aggregated.
    Own,
    /// A former manager: only what falls in the spans they managed the person.
    Periods(Vec<(NaiveDate, Option<NaiveDate>)>),
    /// Nothing (the cycle committee's access is per cycle: see [`read_cycle_data`]).
    None,
}

/// What `actor` may see of `subject`'s private performance data.
pub fn private_access(
    state: &State,
    actor: &Actor,
    subject: &str,
    today: NaiveDate,
) -> PrivateAccess {
    // Oneself first: an HR person sees their own peer feedback aggregated, like anyone.
    if actor.is(subject) {
        return PrivateAccess::Own;
    }
    if actor.is_operator() || actor.has_role(Role::Hr) {
        return PrivateAccess::Full;
    }
    // A service account is nobody's manager: without HR it sees no one's private data.
    let Some(me) = actor.person_id() else {
        return PrivateAccess::None;
    };
    if current_manager(state, subject, today).as_deref() == Some(me) {
        return PrivateAccess::Full;
    }
    let spans = managed_spans(state, me, subject);
    if spans.is_empty() {
        PrivateAccess::None
    } else {
        PrivateAccess::Periods(spans)
    }
}

/// May `actor` read `subject`'s private data about the period `[from, to]` (a cycle, or the
/// period of a credit report)? The ratee's own view goes through [`read_own_feedback`].
pub fn read_private(
    state: &State,
    actor: &Actor,
    subject: &str,
    period: Option<(NaiveDate, NaiveDate)>,
    cycle_id: Option<&str>,
    today: NaiveDate,
) -> Decision {
    if cycle_id.is_some_and(|c| on_committee(state, actor, c)) {
        return Ok(());
    }
    match private_access(state, actor, subject, today) {
        PrivateAccess::Full => Ok(()),
        PrivateAccess::Periods(spans) => match period {
            Some((from, to))
                if spans
                    .iter()
                    .any(|(start, end)| *start <= to && end.is_none_or(|end| from <= end)) =>
            {
                Ok(())
            }
            _ => Err(AppError::forbidden(
                rule::FORMER_MANAGER_PERIOD,
                format!(
                    "you managed {subject} only from {}; a former manager sees their data for that period only",
                    spans
                        .iter()
                        .map(|(s, e)| format!(
                            "{s} to {}",
                            e.map_or("now".to_string(), |e| e.to_string())
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        },
        PrivateAccess::Own | PrivateAccess::None => Err(AppError::forbidden(
            rule::PRIVATE_PERFORMANCE_DATA,
            format!(
                "{subject}'s ratings, feedback, scores and credit are private to them, their managers, HR and the cycle's committee"
            ),
        )),
    }
}

/// May `actor` read `subject`'s own feedback view (aggregated peer feedback)? The person
/// themself, and whoever may read their private data for the cycle.
pub fn read_own_feedback(
    state: &State,
    actor: &Actor,
    subject: &str,
    period: (NaiveDate, NaiveDate),
    cycle_id: &str,
    today: NaiveDate,
) -> Decision {
    if actor.is(subject) {
        return Ok(());
    }
    read_private(state, actor, subject, Some(period), Some(cycle_id), today)
}

/// A person's own credit: the person, and whoever may read their private data.
pub fn read_credit_of(
    state: &State,
    actor: &Actor,
    subject: &str,
    period: Option<(NaiveDate, NaiveDate)>,
    today: NaiveDate,
) -> Decision {
    if actor.is(subject) {
        return Ok(());
    }
    read_private(state, actor, subject, period, None, today)
}

/// Organisation-wide views of private data (everyone's credit, payouts, a cycle's session and
/// final scores): the operator, HR, and for a cycle its committee.
pub fn read_organisation(state: &State, actor: &Actor, cycle_id: Option<&str>) -> Decision {
    let committee = cycle_id.is_some_and(|c| on_committee(state, actor, c));
    allow_if(
        operator_or(actor, Role::Hr) || committee,
        rule::ORGANISATION_WIDE_VIEWS,
        || {
            "organisation-wide performance data is for HR (and a cycle's calibration committee)"
                .into()
        },
    )
}

/// The organisation's diagnostics (credit kept, churn, collaboration, tree health, a
/// reorganisation's what-if): they show people's credit, so HR and the operator only.
pub fn diagnose(actor: &Actor) -> Decision {
    allow_if(
        operator_or(actor, Role::Hr),
        rule::DIAGNOSTICS_ARE_HR,
        || "the organisation's diagnostics show people's credit: they are for HR".into(),
    )
}

/// Recording a reorganisation plan (assignments and unit changes): HR, who plans it, an
/// administrator, who records org changes, or the operator.
pub fn reorganise(actor: &Actor) -> Decision {
    allow_if(
        operator_or(actor, Role::Hr) || actor.has_role(Role::Admin),
        rule::REORGANISATIONS_BY_HR_OR_ADMIN,
        || "a reorganisation is recorded by HR or an administrator".into(),
    )
}

/// Erasing a person's personal data, or applying the retention policy: irreversible, so
/// the operator, or a person who holds both the HR role (who answers the request) and the
/// admin role (who runs the database).
pub fn erase(actor: &Actor) -> Decision {
    allow_if(
        actor.is_operator() || (actor.has_role(Role::Hr) && actor.has_role(Role::Admin)),
        rule::ERASURE_BY_HR_ADMIN,
        || "erasing personal data needs both the HR and the admin role (or the operator)".into(),
    )
}

/// Administration: imports, role grants, ledger verification, rebuilds, full exports.
pub fn administer(actor: &Actor) -> Decision {
    allow_if(
        operator_or(actor, Role::Admin),
        rule::ADMIN_ADMINISTERS,
        || "this is an administrator's operation".into(),
    )
}

/// Recording a contribution for `person`: the person themself (their own work), or the
/// operator / an admin (integrations and corrections).
pub fn record_contribution(actor: &Actor, person: &str) -> Decision {
    allow_if(
        actor.is(person) || operator_or(actor, Role::Admin),
        rule::OWN_WORK_ONLY,
        || format!("you record your own contributions, not {person}'s"),
    )
}

/// Confirming (or taking back the confirmation of) a contribution: the node's lead today,
/// never for their own contribution; the operator.
pub fn confirm_contribution(
    state: &State,
    actor: &Actor,
    node_id: &str,
    contributor: &str,
) -> Decision {
    if actor.is_operator() {
        return Ok(());
    }
    allow_if(!actor.is(contributor), rule::NO_SELF_CONFIRMATION, || {
        "you cannot confirm your own contribution; the node's lead does".into()
    })?;
    let lead = state.current_lead(node_id).map(String::as_str);
    allow_if(
        lead.is_some_and(|l| actor.is(l)),
        rule::LEAD_CONFIRMS,
        || {
            format!(
                "contributions to {node_id} are confirmed by its lead ({})",
                lead.unwrap_or("none")
            )
        },
    )
}

/// Retracting a contribution: the contributor, the node's lead, the operator or an admin.
pub fn retract_contribution(
    state: &State,
    actor: &Actor,
    node_id: &str,
    contributor: &str,
) -> Decision {
    let lead = state.current_lead(node_id).map(String::as_str);
    allow_if(
        actor.is(contributor)
            || lead.is_some_and(|l| actor.is(l))
            || operator_or(actor, Role::Admin),
        rule::LEAD_OR_CONTRIBUTOR_RETRACTS,
        || {
            format!(
                "a contribution is retracted by its contributor ({contributor}) or the node's lead"
            )
        },
    )
}

fn is_lead(state: &State, actor: &Actor, node_id: &str) -> bool {
    state
        .current_lead(node_id)
        .is_some_and(|lead| actor.is(lead))
}

/// Recording an outcome at a node: its lead, the operator or an admin.
pub fn record_outcome(state: &State, actor: &Actor, node_id: &str) -> Decision {
    allow_if(
        is_lead(state, actor, node_id) || operator_or(actor, Role::Admin),
        rule::LEAD_RECORDS_OUTCOMES,
        || format!("outcomes at {node_id} are recorded by its lead"),
    )
}

/// Changing a node (its record, status, members, hand-over): its lead, the operator or an
/// admin.
pub fn manage_node(state: &State, actor: &Actor, node_id: &str) -> Decision {
    allow_if(
        is_lead(state, actor, node_id) || operator_or(actor, Role::Admin),
        rule::LEAD_MANAGES_NODE,
        || format!("node {node_id} is managed by its lead"),
    )
}

/// Creating a node: anyone employed creates initiatives and deliverables they lead
/// (flagpoles); the company's needs and objectives, and nodes led by someone else, are
/// created by the operator or an admin.
pub fn create_node(
    actor: &Actor,
    kind: valuetree_core::domain::NodeKind,
    lead: Option<&str>,
) -> Decision {
    use valuetree_core::domain::NodeKind;
    if operator_or(actor, Role::Admin) {
        return Ok(());
    }
    allow_if(
        matches!(kind, NodeKind::Initiative | NodeKind::Deliverable),
        rule::TOP_OF_TREE_IS_ADMINISTERED,
        || {
            format!(
                "{kind} nodes are created by an admin; raise an initiative (a flagpole) instead"
            )
        },
    )?;
    allow_if(
        lead.is_none_or(|l| actor.is(l)),
        rule::OWN_WORK_ONLY,
        || "you raise nodes that you lead yourself".into(),
    )
}

/// Linking a child under a parent (or ending the link): the parent's lead, the operator or
/// an admin.
pub fn link_under(state: &State, actor: &Actor, parent_id: &str) -> Decision {
    allow_if(
        is_lead(state, actor, parent_id) || operator_or(actor, Role::Admin),
        rule::PARENT_LEAD_LINKS,
        || format!("nodes are linked under {parent_id} by its lead"),
    )
}

/// Leaving a node: the member themself, the node's lead, the operator or an admin.
pub fn leave_node(state: &State, actor: &Actor, node_id: &str, person: &str) -> Decision {
    if actor.is(person) {
        return Ok(());
    }
    manage_node(state, actor, node_id)
}

/// Asking to join a node: for oneself only.
pub fn ask_to_join(actor: &Actor, person: &str) -> Decision {
    allow_if(
        actor.is(person) || actor.is_operator(),
        rule::OWN_WORK_ONLY,
        || format!("you ask to join for yourself, not for {person}"),
    )
}

/// Accepting or declining a join request: the node's lead; withdrawing it: the person.
pub fn answer_join(
    state: &State,
    actor: &Actor,
    node_id: &str,
    person: &str,
    withdraw: bool,
) -> Decision {
    if withdraw {
        return ask_to_join(actor, person);
    }
    allow_if(
        is_lead(state, actor, node_id) || operator_or(actor, Role::Admin),
        rule::LEAD_ANSWERS_JOIN,
        || format!("requests to join {node_id} are answered by its lead"),
    )
}

/// Recording a rating: raters rate as themselves.
pub fn rate(actor: &Actor, rater: &str) -> Decision {
    allow_if(
        actor.is(rater) || actor.is_operator(),
        rule::OWN_RATINGS_ONLY,
        || format!("you record your own ratings, not {rater}'s"),
    )
}

/// Overriding a calibrated score, or applying a forced distribution: a member of the cycle's
/// committee (or HR when the cycle names no committee), acting as themselves.
pub fn override_score(state: &State, actor: &Actor, cycle_id: &str, by: &str) -> Decision {
    if actor.is_operator() {
        return Ok(());
    }
    let committee_empty = state
        .reviews
        .cycles
        .get(cycle_id)
        .is_some_and(|c| c.record.committee.is_empty());
    allow_if(
        actor.is(by)
            && (on_committee(state, actor, cycle_id)
                || (committee_empty && actor.has_role(Role::Hr))),
        rule::COMMITTEE_OVERRIDES,
        || {
            format!(
                "scores in cycle {cycle_id} are overridden by its calibration committee, as themselves"
            )
        },
    )
}

/// Opening cycles, moving their phases, running calibration: HR or the operator.
pub fn run_cycles(actor: &Actor) -> Decision {
    allow_if(operator_or(actor, Role::Hr), rule::HR_RUNS_CYCLES, || {
        "review cycles are run by HR".into()
    })
}

/// Recording the credit or final-score policy: HR, an administrator or the operator.
pub fn set_policies(actor: &Actor) -> Decision {
    allow_if(
        operator_or(actor, Role::Hr) || actor.has_role(Role::Admin),
        rule::HR_SETS_POLICIES,
        || "the credit and final-score policies are set by HR".into(),
    )
}

/// Adding or removing a reviewer, setting goals: the person, a manager of theirs during the
/// cycle, HR or the operator.
pub fn person_or_manager(
    state: &State,
    actor: &Actor,
    person: &str,
    period: (NaiveDate, NaiveDate),
    rule_name: &'static str,
) -> Decision {
    let manager = actor
        .person_id()
        .is_some_and(|me| managed_during(state, me, person, period.0, period.1));
    allow_if(
        actor.is(person) || manager || operator_or(actor, Role::Hr),
        rule_name,
        || format!("only {person}, their managers in the cycle and HR may do this"),
    )
}

/// Assessing values behaviours: a manager of the person during the cycle, HR, the operator.
pub fn assess_values(
    state: &State,
    actor: &Actor,
    person: &str,
    period: (NaiveDate, NaiveDate),
) -> Decision {
    let manager = actor
        .person_id()
        .is_some_and(|me| managed_during(state, me, person, period.0, period.1));
    allow_if(
        manager || operator_or(actor, Role::Hr),
        rule::VALUES_BY_MANAGER,
        || {
            format!(
                "{person}'s values behaviours are assessed by their managers in the cycle or HR"
            )
        },
    )
}
