//! Loading the credit engine's input from the projections.

use crate::sql::{Cell, Value};
use crate::{Store, StoreError};
use rustc_hash::FxHashMap;
use valuetree_core::NaiveDate;
use valuetree_core::credit::{
    CreditContribution, CreditData, CreditEdge, CreditOutcome, CreditPeerPoints, Day, Status, day,
};
use valuetree_core::domain::{PeerPoints, Phase};

/// Parses `YYYY-MM-DD` without going through a format string (millions of rows).
fn parse_day(text: &str) -> Option<Day> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |s: &[u8]| {
        s.iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(num(&b[0..4])? as i32, num(&b[5..7])?, num(&b[8..10])?)?;
    Some(day(date))
}

const CONTRIBUTION_COLUMNS: &str = "SELECT person_id, node_id, phase, date, effort, confirmed, confirmed_on, retracted_on FROM contributions";

/// From this many contributions on, SQLite reads them with two connections.
const PARALLEL_ROWS: usize = 200_000;

/// Contributions read by one reader, with person and node ids interned locally.
#[derive(Default)]
struct Part {
    people: FxHashMap<String, u32>,
    person_names: Vec<String>,
    nodes: FxHashMap<String, u32>,
    node_names: Vec<String>,
    rows: Vec<CreditContribution>,
}

fn local_id(index: &mut FxHashMap<String, u32>, names: &mut Vec<String>, id: &str) -> u32 {
    if let Some(&i) = index.get(id) {
        return i;
    }
    let i = names.len() as u32;
    names.push(id.to_string());
    index.insert(id.to_string(), i);
    i
}

impl Part {
    fn with_capacity(rows: usize) -> Part {
        Part {
            rows: Vec::with_capacity(rows),
            ..Part::default()
        }
    }

    fn read_row(&mut self, c: &[Cell<'_>]) -> Result<(), StoreError> {
        let person = local_id(
            &mut self.people,
            &mut self.person_names,
            text(c, 0).ok_or_else(|| corrupt("contributions", "person_id"))?,
        );
        let node = local_id(
            &mut self.nodes,
            &mut self.node_names,
            text(c, 1).ok_or_else(|| corrupt("contributions", "node_id"))?,
        );
        let phase: Phase = text(c, 2)
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| corrupt("contributions", "phase"))?;
        let date = text(c, 3)
            .and_then(parse_day)
            .ok_or_else(|| corrupt("contributions", "date"))?;
        let confirmed = matches!(c.get(5), Some(Cell::Int(n)) if *n != 0)
            || !matches!(c.get(6), Some(Cell::Null) | None);
        let status = if !matches!(c.get(7), Some(Cell::Null) | None) {
            Status::Retracted
        } else if confirmed {
            Status::Confirmed
        } else {
            Status::Unconfirmed
        };
        self.rows.push(CreditContribution {
            person,
            node,
            phase,
            date,
            effort: real(c, 4).ok_or_else(|| corrupt("contributions", "effort"))?,
            status,
        });
        Ok(())
    }

    /// Re-numbers the local ids into `data`'s and appends the rows.
    fn merge_into(self, data: &mut CreditData, out: &mut Vec<CreditContribution>) {
        let people: Vec<u32> = self.person_names.iter().map(|id| data.person(id)).collect();
        let nodes: Vec<u32> = self.node_names.iter().map(|id| data.node(id, "")).collect();
        out.extend(self.rows.into_iter().map(|c| CreditContribution {
            person: people[c.person as usize],
            node: nodes[c.node as usize],
            ..c
        }));
    }
}

/// The second reader: its own read-only connection, the rowids above `mid`.
fn read_second_half(path: &str, mid: i64, max_rowid: i64) -> Result<Part, StoreError> {
    let connection = crate::sqlite::open_reader(path)?;
    let mut statement = connection.prepare(&format!(
        "{CONTRIBUTION_COLUMNS} WHERE rowid > ?1 AND rowid <= ?2"
    ))?;
    let mut rows = statement.query([mid, max_rowid])?;
    let mut part = Part::with_capacity(usize::try_from(max_rowid - mid).unwrap_or(0));
    while let Some(row) = rows.next()? {
        let mut cells = [Cell::Null; 8];
        for (i, cell) in cells.iter_mut().enumerate() {
            *cell = crate::sqlite::cell(row.get_ref(i)?);
        }
        part.read_row(&cells)?;
    }
    Ok(part)
}

fn corrupt(table: &'static str, what: &str) -> StoreError {
    StoreError::Corrupt {
        table,
        reason: format!("unreadable {what}"),
    }
}

fn text<'a>(cells: &[Cell<'a>], i: usize) -> Option<&'a str> {
    cells.get(i).and_then(Cell::text)
}

fn real(cells: &[Cell<'_>], i: usize) -> Option<f64> {
    match cells.get(i) {
        Some(Cell::Real(f)) => Some(*f),
        Some(Cell::Int(n)) => Some(*n as f64),
        _ => None,
    }
}

fn opt_day(cells: &[Cell<'_>], i: usize) -> Option<Option<Day>> {
    match cells.get(i) {
        Some(Cell::Null) => Some(None),
        Some(cell) => match cell.text()? {
            "" => Some(None),
            t => parse_day(t).map(Some),
        },
        None => None,
    }
}

impl Store {
    /// Everything the credit engine needs: the tree, every contribution, and the outcomes
    /// dated from `from` to `to` (inclusive; `None` = unbounded).
    pub fn credit_data(
        &mut self,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<CreditData, StoreError> {
        let mut data = CreditData::default();
        let sqlite_path = self.sqlite_path.clone();
        let mut tx = self.begin(false)?;
        tx.for_each_cells(
            "SELECT node_id, title FROM nodes ORDER BY node_id",
            &[],
            &mut |c| {
                let (id, title) = (
                    text(c, 0).ok_or_else(|| corrupt("nodes", "node_id"))?,
                    text(c, 1).unwrap_or(""),
                );
                data.node(id, title);
                Ok(())
            },
        )?;
        let mut edges = Vec::new();
        tx.for_each_cells(
            "SELECT parent_id, child_id, weight, valid_from, valid_to FROM edges ORDER BY parent_id, child_id, valid_from",
            &[],
            &mut |c| {
                let (parent, child) = (
                    text(c, 0).ok_or_else(|| corrupt("edges", "parent_id"))?,
                    text(c, 1).ok_or_else(|| corrupt("edges", "child_id"))?,
                );
                edges.push(CreditEdge {
                    parent: data.node(parent, ""),
                    child: data.node(child, ""),
                    weight: real(c, 2).ok_or_else(|| corrupt("edges", "weight"))?,
                    from: opt_day(c, 3).ok_or_else(|| corrupt("edges", "valid_from"))?,
                    to: opt_day(c, 4).ok_or_else(|| corrupt("edges", "valid_to"))?,
                });
                Ok(())
            },
        )?;
        data.edges = edges;
        let mut expected = 0i64;
        tx.for_each_cells("SELECT count(*) FROM contributions", &[], &mut |c| {
            if let Some(Cell::Int(n)) = c.first() {
                expected = *n;
            }
            Ok(())
        })?;
        let expected = usize::try_from(expected).unwrap_or(0);
        let mut parts = Vec::new();
        match &sqlite_path {
            // SQLite: two readers (two connections, half the rowids each), each interning its
            // ids locally; a second connection reads the same committed data (WAL).
            Some(path) if expected >= PARALLEL_ROWS && crate::sqlite::has_shared_file(path) => {
                let mut max_rowid = 0i64;
                tx.for_each_cells("SELECT max(rowid) FROM contributions", &[], &mut |c| {
                    if let Some(Cell::Int(n)) = c.first() {
                        max_rowid = *n;
                    }
                    Ok(())
                })?;
                let mid = max_rowid / 2;
                let path = path.clone();
                let (mine, theirs) = std::thread::scope(|scope| {
                    let other = scope.spawn(move || read_second_half(&path, mid, max_rowid));
                    let mut mine = Part::with_capacity(expected / 2);
                    let sql = format!("{CONTRIBUTION_COLUMNS} WHERE rowid <= $1");
                    let result =
                        tx.for_each_cells(&sql, &[Value::Int(mid)], &mut |c| mine.read_row(c));
                    let theirs = other.join().unwrap_or_else(|_| {
                        Err(corrupt(
                            "contributions",
                            "rows (the second reader panicked)",
                        ))
                    });
                    (result.map(|()| mine), theirs)
                });
                parts.push(mine?);
                parts.push(theirs?);
            }
            _ => {
                let mut all = Part::with_capacity(expected);
                tx.for_each_cells(CONTRIBUTION_COLUMNS, &[], &mut |c| all.read_row(c))?;
                parts.push(all);
            }
        }
        let mut contributions = Vec::with_capacity(expected);
        for part in parts {
            part.merge_into(&mut data, &mut contributions);
        }
        data.contributions = contributions;
        let bounds = [
            Value::Text(from.map_or(String::new(), |d| d.to_string())),
            Value::Text(to.map_or("9999-12-31".to_string(), |d| d.to_string())),
        ];
        let mut outcomes = Vec::new();
        tx.for_each_cells(
            "SELECT outcome_id, node_id, date, value FROM outcomes WHERE date >= $1 AND date <= $2 ORDER BY date, outcome_id",
            &bounds,
            &mut |c| {
                outcomes.push(CreditOutcome {
                    id: text(c, 0).ok_or_else(|| corrupt("outcomes", "outcome_id"))?.to_string(),
                    node: data.node(text(c, 1).ok_or_else(|| corrupt("outcomes", "node_id"))?, ""),
                    date: text(c, 2).and_then(parse_day).ok_or_else(|| corrupt("outcomes", "date"))?,
                    value: real(c, 3).ok_or_else(|| corrupt("outcomes", "value"))?,
                });
                Ok(())
            },
        )?;
        data.outcomes = outcomes;
        let mut given = Vec::new();
        tx.for_each_cells(
            "SELECT node_id, date, points FROM peer_points ORDER BY node_id, giver_id, date",
            &[],
            &mut |c| {
                let node = data.node(
                    text(c, 0).ok_or_else(|| corrupt("peer_points", "node_id"))?,
                    "",
                );
                let date = text(c, 1)
                    .and_then(parse_day)
                    .ok_or_else(|| corrupt("peer_points", "date"))?;
                let points: Vec<PeerPoints> = text(c, 2)
                    .and_then(|t| serde_json::from_str(t).ok())
                    .ok_or_else(|| corrupt("peer_points", "points"))?;
                for p in points {
                    given.push(CreditPeerPoints {
                        node,
                        person: data.person(&p.person_id),
                        date,
                        points: f64::from(p.points),
                    });
                }
                Ok(())
            },
        )?;
        data.peer_points = given;
        Ok(data)
    }

    /// Person id → name, for reports.
    pub fn person_names(
        &mut self,
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let mut names = std::collections::HashMap::new();
        let mut tx = self.begin(false)?;
        tx.for_each_cells("SELECT person_id, name FROM people", &[], &mut |c| {
            if let (Some(id), Some(name)) = (text(c, 0), text(c, 1)) {
                names.insert(id.to_string(), name.to_string());
            }
            Ok(())
        })?;
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_parse_like_chrono() {
        let d = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap_or_default();
        assert_eq!(parse_day("2024-02-29"), Some(day(d)));
        assert_eq!(parse_day("2023-02-29"), None);
        assert_eq!(parse_day("2024-2-29"), None);
    }
}
