//! The reorganisation plan file of `valuetree whatif`:
//! `action,subject_id,target_id,date[,manager_id]`, one change per row.

use crate::small_csv::{SmallCsv, row_error};
use std::io::Read;
use valuetree_core::NaiveDate;
use valuetree_core::diagnose::{PlanAction, PlanRow};
use valuetree_core::import::RowError;

const REQUIRED: [&str; 4] = ["action", "subject_id", "target_id", "date"];
const OPTIONAL: [&str; 1] = ["manager_id"];

/// Reads a plan; every bad row is reported (line, column, reason).
pub fn parse_plan(reader: impl Read) -> Result<Vec<PlanRow>, Vec<RowError>> {
    let mut csv = SmallCsv::open(reader, &REQUIRED, &OPTIONAL, "a plan")?;
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    while let Some(line) = csv.next_row(&mut errors) {
        let get = |name: &str| csv.get(name);
        let mut bad =
            |column: &str, reason: String| errors.push(row_error(line, Some(column), reason));
        for name in ["subject_id", "target_id"] {
            if get(name).is_empty() {
                bad(name, "is empty; a value is required".into());
            }
        }
        let action = get("action").parse::<PlanAction>();
        if let Err(reason) = &action {
            bad("action", reason.clone());
        }
        let date = NaiveDate::parse_from_str(get("date"), "%Y-%m-%d");
        if date.is_err() {
            bad(
                "date",
                format!("`{}` is not a date; write it as YYYY-MM-DD", get("date")),
            );
        }
        if let (Ok(action), Ok(date)) = (action, date) {
            rows.push(PlanRow {
                line: line as usize,
                action,
                subject_id: get("subject_id").to_string(),
                target_id: get("target_id").to_string(),
                date,
                manager_id: Some(get("manager_id"))
                    .filter(|m| !m.is_empty())
                    .map(str::to_string),
            });
        }
    }
    if errors.is_empty() && rows.is_empty() {
        errors.push(row_error(1, None, "the plan has no rows".into()));
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_row_is_named_with_its_line_and_column() {
        let text = "action,subject_id,target_id,date,manager_id\n\
                    move_person,P1,U2,2025-01-01,\n\
                    promote,P2,U2,2025-01-01,\n\
                    dissolve_unit,U3,,01/02/2025,M1\n";
        let errors = parse_plan(text.as_bytes()).expect_err("two bad rows");
        let named: Vec<(u64, Option<&str>)> = errors
            .iter()
            .map(|e| (e.line, e.column.as_deref()))
            .collect();
        assert_eq!(
            named,
            vec![
                (3, Some("action")),
                (4, Some("target_id")),
                (4, Some("date"))
            ]
        );
        let good = "action,subject_id,target_id,date\nchange_manager,P1,M2,2025-01-01\n";
        let rows = parse_plan(good.as_bytes()).expect("a plan");
        assert_eq!(rows[0].action, PlanAction::ChangeManager);
        assert_eq!((rows[0].line, rows[0].manager_id.clone()), (2, None));
    }
}
