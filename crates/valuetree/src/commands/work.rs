//! The day-to-day writes: `valuetree contribution …`, `node …`, `flagpole …`, `role …`.
//! Each parses its arguments, calls the application layer as the acting person and prints
//! the receipt.

use crate::parse_date;
use anyhow::Result;
use clap::Subcommand;
use std::process::ExitCode;
use valuetree_app::commands::work::{NewContribution, NewFlagpole};
use valuetree_app::{Actor, App, Receipt};
use valuetree_core::domain::*;
use valuetree_core::{Amount, NaiveDate};

#[derive(Subcommand, Debug)]
pub enum ContributionCommand {
    /// Record a contribution to a node (your own; the operator names the person).
    Record {
        /// The node worked on.
        node: String,
        /// discover, design, build, launch or operate.
        #[arg(long)]
        phase: Phase,
        /// Effort units (e.g. days).
        #[arg(long)]
        effort: f64,
        /// What was done, in a line (personal: erased with the person).
        #[arg(long, default_value = "")]
        description: String,
        /// A link to the work (a pull request, a document).
        #[arg(long)]
        evidence: Option<String>,
        /// The day of the work (default: today).
        #[arg(long, value_parser = parse_date)]
        date: Option<NaiveDate>,
        /// Whose contribution (default: yours; the operator must say).
        #[arg(long)]
        person: Option<String>,
        /// The contribution's id (default: generated).
        #[arg(long)]
        id: Option<String>,
    },
    /// Confirm a contribution (the node's lead; never your own).
    Confirm {
        /// The contribution to confirm (you lead its node).
        id: String,
    },
    /// Take a confirmation back (the node's lead), with a reason.
    Unconfirm {
        /// The contribution whose confirmation to take back.
        id: String,
        /// Why (recorded; the contributor sees it).
        #[arg(long)]
        reason: String,
    },
    /// Retract a contribution (its contributor or the node's lead), with a reason.
    Retract {
        /// The contribution to retract.
        id: String,
        /// Why (recorded; the contributor sees it).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum NodeCommand {
    /// Record value realised at a node (its lead).
    Outcome {
        /// The node where the value was realised.
        node: String,
        /// The outcome's id.
        #[arg(long)]
        id: String,
        /// The value realised, in the organisation's currency units (zero or more).
        #[arg(long)]
        value: Amount,
        /// The day it was realised (default: today).
        #[arg(long, value_parser = parse_date)]
        date: Option<NaiveDate>,
        /// What was realised.
        #[arg(long, default_value = "")]
        description: String,
        /// A link to the evidence (a dashboard, a report).
        #[arg(long)]
        evidence: Option<String>,
    },
    /// Link a child under a parent with a weight (the parent's lead).
    Link {
        /// The node served (parent).
        parent: String,
        /// The node that serves it (child).
        child: String,
        /// The share of the child's value that flows to this parent (0 to 1).
        #[arg(long)]
        weight: Amount,
        /// The first day of the link (default: since always).
        #[arg(long, value_parser = parse_date)]
        from: Option<NaiveDate>,
    },
    /// End a link (the parent's lead).
    Unlink {
        /// The parent node of the link.
        parent: String,
        /// The child node of the link.
        child: String,
        /// The start of the link to end, if it has one.
        #[arg(long, value_parser = parse_date)]
        from: Option<NaiveDate>,
        /// Its last day (default: today).
        #[arg(long, value_parser = parse_date)]
        on: Option<NaiveDate>,
    },
    /// Add a member in a role (the node's lead).
    Join {
        /// The node to join.
        node: String,
        /// Who joins.
        person: String,
        /// Their role on the node (e.g. engineer).
        #[arg(long)]
        role: String,
        /// The first day (default: today).
        #[arg(long, value_parser = parse_date)]
        on: Option<NaiveDate>,
    },
    /// Leave a node (yourself, or the lead for a member).
    Leave {
        /// The node to leave.
        node: String,
        /// Who leaves (default: you).
        #[arg(long)]
        person: Option<String>,
        /// The last day (default: today).
        #[arg(long, value_parser = parse_date)]
        on: Option<NaiveDate>,
    },
    /// Hand a node over to a new lead (its lead): everyone keeps what they earned.
    HandOver {
        /// The node handed over.
        node: String,
        /// The new lead.
        #[arg(long)]
        to: String,
        /// A note for the record (personal: about the lead handing over).
        #[arg(long, default_value = "")]
        note: String,
        /// The day of the hand-over (default: today).
        #[arg(long, value_parser = parse_date)]
        on: Option<NaiveDate>,
    },
}

#[derive(Subcommand, Debug)]
pub enum FlagpoleCommand {
    /// Raise a flagpole: a proposed initiative you lead, serving a need, with roles wanted.
    Raise {
        /// The new flagpole's id.
        id: String,
        /// Its title.
        #[arg(long)]
        title: String,
        /// The need (or objective) it serves; its lead links it into the tree.
        #[arg(long)]
        serves: String,
        /// A role you are looking for (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// What it is for and why.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Ask to join a node in a role.
    Ask {
        /// The flagpole (or node) to join.
        node: String,
        /// The role you offer to take.
        #[arg(long)]
        role: String,
        /// A message to its lead.
        #[arg(long, default_value = "")]
        message: String,
        /// For the operator: who asks.
        #[arg(long)]
        person: Option<String>,
    },
    /// Accept a request to join (the node's lead): the person becomes a member.
    Accept {
        /// The flagpole (or node).
        node: String,
        /// Whose request to accept.
        person: String,
    },
    /// Decline a request to join (the node's lead).
    Decline {
        /// The flagpole (or node).
        node: String,
        /// Whose request to decline.
        person: String,
    },
    /// Withdraw your request to join.
    Withdraw {
        /// The flagpole (or node).
        node: String,
        /// Whose request to withdraw (your own).
        person: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum RoleCommand {
    /// Grant a role (hr or admin) to a person (an admin or the operator).
    Grant {
        /// Who receives the role.
        person: String,
        /// The role: hr or admin.
        role: Role,
    },
    /// Revoke a role.
    Revoke {
        /// Who loses the role.
        person: String,
        /// The role: hr or admin.
        role: Role,
    },
}

pub fn done(receipt: Receipt, what: String) -> Result<ExitCode> {
    say!(
        "{what}{}",
        receipt
            .seq
            .map_or(String::new(), |s| format!(" (event {s})"))
    );
    Ok(ExitCode::SUCCESS)
}

pub fn contribution(app: &App, actor: &Actor, command: ContributionCommand) -> Result<ExitCode> {
    match command {
        ContributionCommand::Record {
            node,
            phase,
            effort,
            description,
            evidence,
            date,
            person,
            id,
        } => {
            let what = format!("recorded {effort} effort units of {phase} on {node}");
            let receipt = app.record_contribution(
                actor,
                NewContribution {
                    contribution_id: id,
                    person_id: person,
                    node_id: node,
                    phase,
                    date,
                    effort,
                    description,
                    evidence,
                },
            )?;
            done(receipt, what)
        }
        ContributionCommand::Confirm { id } => done(
            app.confirm_contribution(actor, &id)?,
            format!("confirmed {id}"),
        ),
        ContributionCommand::Unconfirm { id, reason } => done(
            app.unconfirm_contribution(actor, &id, &reason)?,
            format!("took back the confirmation of {id}"),
        ),
        ContributionCommand::Retract { id, reason } => done(
            app.retract_contribution(actor, &id, &reason)?,
            format!("retracted {id}"),
        ),
    }
}

pub fn node(app: &App, actor: &Actor, command: NodeCommand) -> Result<ExitCode> {
    let today = app.today();
    match command {
        NodeCommand::Outcome {
            node,
            id,
            value,
            date,
            description,
            evidence,
        } => done(
            app.record_outcome(
                actor,
                OutcomeRecord {
                    date: date.unwrap_or(today),
                    description,
                    evidence,
                    node_id: node.clone(),
                    outcome_id: id.clone(),
                    value,
                },
            )?,
            format!("outcome {id} of {value} at {node}"),
        ),
        NodeCommand::Link {
            parent,
            child,
            weight,
            from,
        } => done(
            app.link(
                actor,
                EdgeRecord {
                    child_id: child.clone(),
                    parent_id: parent.clone(),
                    valid_from: from,
                    valid_to: None,
                    weight,
                },
            )?,
            format!("linked {child} under {parent} with weight {weight}"),
        ),
        NodeCommand::Unlink {
            parent,
            child,
            from,
            on,
        } => done(
            app.unlink(actor, &parent, &child, from, on)?,
            format!("ended the link {parent} → {child}"),
        ),
        NodeCommand::Join {
            node,
            person,
            role,
            on,
        } => done(
            app.join(
                actor,
                MemberRecord {
                    joined_on: on.unwrap_or(today),
                    left_on: None,
                    node_id: node.clone(),
                    person_id: person.clone(),
                    role: role.clone(),
                },
            )?,
            format!("{person} joined {node} as {role}"),
        ),
        NodeCommand::Leave { node, person, on } => done(
            app.leave(actor, &node, person.as_deref(), on)?,
            format!("left {node}"),
        ),
        NodeCommand::HandOver { node, to, note, on } => done(
            app.hand_over(actor, &node, &to, on, &note)?,
            format!("{node} handed over to {to}"),
        ),
    }
}

pub fn flagpole(app: &App, actor: &Actor, command: FlagpoleCommand) -> Result<ExitCode> {
    match command {
        FlagpoleCommand::Raise {
            id,
            title,
            serves,
            roles,
            description,
        } => done(
            app.raise_flagpole(
                actor,
                NewFlagpole {
                    node_id: id.clone(),
                    title,
                    description,
                    serves_id: serves.clone(),
                    roles_wanted: roles,
                },
            )?,
            format!("raised flagpole {id} serving {serves}; its lead links it into the tree"),
        ),
        FlagpoleCommand::Ask {
            node,
            role,
            message,
            person,
        } => done(
            app.ask_to_join(actor, &node, person.as_deref(), &role, &message)?,
            format!("asked to join {node} as {role}"),
        ),
        FlagpoleCommand::Accept { node, person } => done(
            app.answer_join(actor, &node, &person, JoinStatus::Accepted)?,
            format!("{person} is now a member of {node}"),
        ),
        FlagpoleCommand::Decline { node, person } => done(
            app.answer_join(actor, &node, &person, JoinStatus::Declined)?,
            format!("declined {person}'s request to join {node}"),
        ),
        FlagpoleCommand::Withdraw { node, person } => done(
            app.answer_join(actor, &node, &person, JoinStatus::Withdrawn)?,
            format!("withdrew {person}'s request to join {node}"),
        ),
    }
}

pub fn role(app: &App, actor: &Actor, command: RoleCommand) -> Result<ExitCode> {
    match command {
        RoleCommand::Grant { person, role } => done(
            app.grant_role(actor, &person, role)?,
            format!("{person} holds the role {role}"),
        ),
        RoleCommand::Revoke { person, role } => done(
            app.revoke_role(actor, &person, role)?,
            format!("{person} no longer holds the role {role}"),
        ),
    }
}
