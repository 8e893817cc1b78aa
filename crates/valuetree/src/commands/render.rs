//! How the read commands print what the application layer returns: the formats they offer
//! and the labels they share. Nothing here decides; it only writes.

use anyhow::Result;
use clap::ValueEnum;
use std::process::ExitCode;
use valuetree_app::queries::{NodeRef, PersonRef, UnitRef};
use valuetree_core::NaiveDate;

/// How a read command whose report is a table prints it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Text for people.
    #[default]
    Table,
    /// One row per line with a header, for spreadsheets and scripts.
    Csv,
    /// The application layer's data, as JSON.
    Json,
}

/// How a read command whose report is not one table prints it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ViewFormat {
    /// Text for people.
    #[default]
    Table,
    /// The application layer's data, as JSON.
    Json,
}

/// Prints `value` as pretty JSON.
pub fn json<T: serde::Serialize>(value: &T) -> Result<ExitCode> {
    crate::output::push_json(value)?;
    Ok(ExitCode::SUCCESS)
}

/// A CSV cell, quoted when it must be.
pub fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Prints one CSV line of `cells`.
pub fn csv_line<S: AsRef<str>>(cells: &[S]) {
    let line: Vec<String> = cells.iter().map(|c| csv_cell(c.as_ref())).collect();
    say!("{}", line.join(","));
}

/// "Name (ID)", or just the id if the person is unknown.
pub fn person(p: &PersonRef) -> String {
    if p.name.is_empty() {
        p.person_id.clone()
    } else {
        format!("{} ({})", p.name, p.person_id)
    }
}

/// "Name (ID)", or just the id if the unit is unknown.
pub fn unit(u: &UnitRef) -> String {
    if u.name.is_empty() {
        u.unit_id.clone()
    } else {
        format!("{} ({})", u.name, u.unit_id)
    }
}

/// `ID "Title"`, or just the id if the node is unknown.
pub fn node(n: &NodeRef) -> String {
    if n.title.is_empty() {
        n.node_id.clone()
    } else {
        format!("{} \"{}\"", n.node_id, n.title)
    }
}

/// "FROM – TO", the end blank while open.
pub fn span(from: NaiveDate, to: Option<NaiveDate>) -> String {
    format!(
        "{from} – {}",
        to.map_or(String::from("        "), |d| d.to_string())
    )
}
