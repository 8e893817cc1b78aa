//! `valuetree review …`: everything that happens in a review cycle, from goals to the final
//! score. Every change is a ledger event; every view reads the ledger's projections.

mod calibration;
mod views;

use super::render::{Format, ViewFormat};
use super::work::done;
use crate::parse_date;
use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use valuetree_app::commands::review::NewRating;
use valuetree_app::{Actor, App};
use valuetree_core::domain::Relationship;
use valuetree_core::review::*;
use valuetree_core::{Amount, NaiveDate};

#[derive(Args, Debug)]
pub struct ReviewArgs {
    /// The review cycle.
    #[arg(long, global = true)]
    cycle: Option<String>,
    #[command(subcommand)]
    command: ReviewCommand,
}

#[derive(Subcommand, Debug)]
enum ReviewCommand {
    /// Suggested reviewers for a person, found in the ledger (who they worked with, the leads
    /// of their nodes, every manager they had in the period, internal customers, reports),
    /// ranked, each with its reason; plus those added or removed by hand.
    Reviewers {
        /// Whose reviewers to suggest.
        person: String,
        /// How many reviewers to list.
        #[arg(long, default_value_t = 8)]
        limit: usize,
        /// How to print them.
        #[arg(long, value_enum, default_value = "table")]
        format: ViewFormat,
    },
    /// Add a reviewer by hand (the person or one of their managers in the period).
    AddReviewer(ReviewerArgs),
    /// Remove a suggested reviewer (the person or one of their managers in the period).
    RemoveReviewer(ReviewerArgs),
    /// Record a rating (submitted, or a draft with --draft); a later one with the same rater,
    /// ratee and dimension revises it.
    Rate {
        /// Who is rated.
        ratee: String,
        /// The rater (default: you; the operator must say).
        #[arg(long)]
        rater: Option<String>,
        /// manager, report (upward), peer, lead, customer or self.
        #[arg(long)]
        relationship: Relationship,
        /// What is rated: results (default) or values.
        #[arg(long, default_value = "results")]
        dimension: String,
        /// The score, on the cycle's scale (1 to its number of levels; 1 to 5 by default).
        #[arg(long)]
        score: Amount,
        /// A comment for the person rated (personal: erased with them).
        #[arg(long, default_value = "")]
        comment: String,
        /// Keep it as a draft (not yet counted).
        #[arg(long)]
        draft: bool,
    },
    /// Set (or revise) a goal: a link from the person to a value-tree node, with key results.
    Goal {
        /// The goal's id (the same id again revises it).
        goal_id: String,
        /// Whose goal it is.
        #[arg(long)]
        person: String,
        /// The value-tree node it serves.
        #[arg(long)]
        node: String,
        /// What the goal is.
        #[arg(long)]
        title: String,
        /// A key result as metric=target (repeatable), e.g. --key-result conversion=0.05.
        #[arg(long = "key-result", value_parser = parse_key_result)]
        key_results: Vec<KeyResult>,
    },
    /// Record a key result's actual value on a date.
    Measure {
        /// The goal.
        goal_id: String,
        /// Which key result.
        metric: String,
        /// Its actual value on that day.
        actual: Amount,
        /// The day measured (default: today).
        #[arg(long, value_parser = parse_date)]
        on: Option<NaiveDate>,
    },
    /// Link a self-review entry to a contribution in the ledger: own_results (your work),
    /// others_success (someone else's result you helped), built_on (others' work your
    /// result built on — it shows on their record too).
    Link {
        /// Whose self review.
        person: String,
        /// own_results, others_success or built_on.
        #[arg(long)]
        circle: Circle,
        /// The contribution in the ledger it refers to.
        #[arg(long)]
        contribution: String,
        /// What the linked work achieved, in a sentence.
        #[arg(long)]
        text: String,
        /// Entry id (default: circle and contribution).
        #[arg(long)]
        entry: Option<String>,
    },
    /// Assess one behaviour of one value: met (needs evidence) or not.
    Behaviour {
        /// Who is assessed.
        person: String,
        /// The value the behaviour belongs to.
        #[arg(long)]
        value: String,
        /// The behaviour.
        #[arg(long)]
        behaviour: String,
        /// Met: needs --evidence.
        #[arg(long, conflicts_with = "not_met")]
        met: bool,
        /// Not met.
        #[arg(long)]
        not_met: bool,
        /// A ledger entry id or a written case (required with --met).
        #[arg(long, default_value = "")]
        evidence: String,
        /// Who assesses (default: you; the operator must say).
        #[arg(long)]
        by: Option<String>,
    },
    /// What the person sees of their feedback: the manager's and their own ratings, others
    /// only aggregated from at least the cycle's anonymity threshold (never below 3).
    Feedback {
        /// Whose feedback.
        person: String,
        /// How to print it.
        #[arg(long, value_enum, default_value = "table")]
        format: ViewFormat,
    },
    /// The person's whole record in the cycle, as each of their managers (past or new) and HR
    /// see it: goals, self review, work others built on, values, every rating, the score.
    Record {
        /// Whose record.
        person: String,
        /// How to print it.
        #[arg(long, value_enum, default_value = "table")]
        format: ViewFormat,
    },
    /// The calibration session: proposed scores against the guidance per unit and per
    /// manager, and managers whose ratings stand far from everyone else's.
    Session {
        /// Record the forced-distribution moves as committee overrides (only if the cycle
        /// opted in to enforcing its guidance).
        #[arg(long)]
        apply_quota: bool,
        /// The committee member applying the quota.
        #[arg(long)]
        by: Option<String>,
        /// How to print the session (json: without applying the quota).
        #[arg(
            long,
            value_enum,
            default_value = "table",
            conflicts_with = "apply_quota"
        )]
        format: ViewFormat,
    },
    /// A committee override of a person's calibrated score (needs a reason; the previous value
    /// is kept in the ledger).
    Override {
        /// Whose score.
        person: String,
        /// The new score.
        #[arg(long)]
        score: Amount,
        /// Why (recorded, with the previous value).
        #[arg(long)]
        reason: String,
        /// The committee member (default: you; the operator must say).
        #[arg(long)]
        by: Option<String>,
        /// The dimension (default: the overall score).
        #[arg(long, default_value = "")]
        dimension: String,
    },
    /// The final score: an explained blend of the calibrated rating, credit from the value
    /// tree in the cycle's period and the values score; and the results × values 9-box.
    Final {
        /// How to print it.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Compute with these blend weights and 9-box cut points instead of the policy in
        /// force (`valuetree policy show final`); TOML: rating_weight, credit_weight,
        /// values_weight, results_cuts = [a, b], values_cuts = [a, b].
        #[arg(long)]
        policy: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
struct ReviewerArgs {
    /// The person reviewed.
    person: String,
    /// The reviewer added or removed.
    reviewer: String,
    /// Who makes the change (default: you; the operator must say).
    #[arg(long)]
    by: Option<String>,
    /// Why (recorded; personal: about the person reviewed).
    #[arg(long)]
    reason: String,
}

fn parse_key_result(text: &str) -> Result<KeyResult, String> {
    let (metric, target) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not metric=target"))?;
    Ok(KeyResult {
        metric: metric.trim().to_string(),
        target: Amount::parse(target).map_err(|e| e.to_string())?,
    })
}

pub fn run(app: &App, actor: &Actor, args: ReviewArgs) -> Result<ExitCode> {
    let Some(cycle_id) = args.cycle.clone() else {
        bail!("say which cycle with --cycle ID; `valuetree cycle list` shows the cycles");
    };
    let today = app.today();
    match args.command {
        ReviewCommand::Reviewers {
            person,
            limit,
            format,
        } => views::reviewers(&app.reviewers(actor, &cycle_id, &person, limit)?, format),
        ReviewCommand::AddReviewer(a) => {
            let what = format!("{} added to the reviewers of {}", a.reviewer, a.person);
            done(
                app.change_reviewer(actor, reviewer_change(&cycle_id, a), true)?,
                what,
            )
        }
        ReviewCommand::RemoveReviewer(a) => {
            let what = format!("{} removed from the reviewers of {}", a.reviewer, a.person);
            done(
                app.change_reviewer(actor, reviewer_change(&cycle_id, a), false)?,
                what,
            )
        }
        ReviewCommand::Rate {
            ratee,
            rater,
            relationship,
            dimension,
            score,
            comment,
            draft,
        } => {
            let what = format!(
                "{} rating of {ratee} by {}: {score} on {dimension}",
                if draft { "draft" } else { "submitted" },
                rater.as_deref().or(actor.person_id()).unwrap_or("?")
            );
            let receipt = app.rate(
                actor,
                NewRating {
                    cycle_id,
                    rater_id: rater,
                    ratee_id: ratee,
                    relationship,
                    dimension,
                    score,
                    comment,
                    draft,
                },
            )?;
            done(receipt, what)
        }
        ReviewCommand::Goal {
            goal_id,
            person,
            node,
            title,
            key_results,
        } => {
            let what = format!("goal {goal_id} of {person} on node {node}");
            let goal = GoalRecord {
                cycle_id,
                goal_id,
                key_results,
                node_id: node,
                person_id: person,
                title,
            };
            done(app.set_goal(actor, goal)?, what)
        }
        ReviewCommand::Measure {
            goal_id,
            metric,
            actual,
            on,
        } => {
            let measured_on = on.unwrap_or(today);
            let what = format!("{goal_id} {metric} = {actual} on {measured_on}");
            let m = Measurement {
                actual,
                goal_id,
                measured_on,
                metric,
            };
            done(app.measure(actor, m)?, what)
        }
        ReviewCommand::Link {
            person,
            circle,
            contribution,
            text,
            entry,
        } => {
            let entry_id = entry.unwrap_or_else(|| format!("{circle}:{contribution}"));
            let what = format!("{person}'s self review links {contribution} under {circle}");
            let e = SelfReviewEntry {
                circle,
                contribution_id: contribution,
                cycle_id,
                entry_id,
                person_id: person,
                text,
            };
            done(app.link_self_review(actor, e)?, what)
        }
        ReviewCommand::Behaviour {
            person,
            value,
            behaviour,
            met,
            not_met,
            evidence,
            by,
        } => {
            if met == not_met {
                bail!("say --met (with --evidence) or --not-met");
            }
            let what = format!(
                "{person}: `{behaviour}` ({value}) {}",
                if met { "met" } else { "not met" }
            );
            let b = BehaviourAssessment {
                assessed_by: by.unwrap_or_default(),
                behaviour,
                cycle_id,
                evidence,
                met,
                person_id: person,
                value,
            };
            done(app.assess_behaviour(actor, b)?, what)
        }
        ReviewCommand::Feedback { person, format } => {
            views::feedback(&app.feedback(actor, &cycle_id, &person)?, format)
        }
        ReviewCommand::Record { person, format } => {
            views::person_record(&app.cycle_record(actor, &cycle_id, &person)?, format)
        }
        ReviewCommand::Session {
            apply_quota,
            by,
            format,
        } => calibration::session_view(app, actor, &cycle_id, apply_quota, by.as_deref(), format),
        ReviewCommand::Override {
            person,
            score,
            reason,
            by,
            dimension,
        } => {
            let receipt = app.override_score(
                actor,
                &cycle_id,
                &person,
                &dimension,
                score,
                &reason,
                by.as_deref(),
            )?;
            // Overrides are master data: the snapshot after the write holds this one.
            let snapshot = app.snapshot()?;
            let previous = snapshot
                .state
                .reviews
                .overrides
                .get(&(cycle_id.clone(), dimension.clone(), person.clone()))
                .map_or(0.0, |o| o.previous.value());
            done(
                receipt,
                format!("{person}: {previous:.2} → {score} ({reason})"),
            )
        }
        ReviewCommand::Final { format, policy } => {
            let policy = match crate::settings_file(policy.as_ref())? {
                Some((name, text)) => Some(valuetree_app::settings::final_policy(Some((
                    name.as_str(),
                    text.as_str(),
                )))?),
                None => None,
            };
            let report = app.final_scores(actor, &cycle_id, policy)?;
            calibration::final_view(&report, format)
        }
    }
}

fn reviewer_change(cycle_id: &str, a: ReviewerArgs) -> ReviewerChange {
    ReviewerChange {
        by: a.by.unwrap_or_default(),
        cycle_id: cycle_id.to_string(),
        ratee_id: a.person,
        reason: a.reason,
        reviewer_id: a.reviewer,
    }
}
