//! Writes the simulation as CSV files, one per kind.

use crate::{RatingRow, Sink};
use std::io::Write;
use valuetree_core::NaiveDate;
use valuetree_core::domain::*;

/// The files a simulation writes, with their headers.
pub const FILES: [(&str, &str); 13] = [
    ("people.csv", "person_id,name,email,joined_on,left_on"),
    (
        "units.csv",
        "unit_id,name,parent_unit_id,valid_from,valid_to",
    ),
    ("assignments.csv", "person_id,unit_id,manager_id,valid_from"),
    (
        "nodes.csv",
        "node_id,kind,title,lead_id,created_on,status,flagpole,description",
    ),
    ("edges.csv", "parent_id,child_id,weight,valid_from,valid_to"),
    ("members.csv", "node_id,person_id,role,joined_on,left_on"),
    (
        "contributions.csv",
        "contribution_id,person_id,node_id,phase,date,effort,description,confirmed",
    ),
    ("outcomes.csv", "outcome_id,node_id,date,value,description"),
    (
        "handovers.csv",
        "node_id,date,from_lead_id,to_lead_id,note,from_unit_id,to_unit_id",
    ),
    (
        "ratings.csv",
        "cycle_id,rater_id,ratee_id,relationship,dimension,score,comment,ratee_unit,rater_unit",
    ),
    ("truth.csv", "person_id,true_performance,expected_rating"),
    (
        "truth_contributions.csv",
        "person_id,node_id,period,true_value",
    ),
    // Cycles close in phase `review`: their ratings are in, calibration is next.
    ("cycles.csv", "cycle_id,name,starts_on,ends_on,phase"),
];

/// A CSV writer per file, in the order of [`FILES`].
pub struct CsvSink {
    writers: Vec<csv::Writer<Box<dyn Write + Send>>>,
}

fn opt_date(d: Option<NaiveDate>) -> String {
    d.map_or(String::new(), |d| d.to_string())
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

impl CsvSink {
    /// `open(name)` gives the output for each file name of [`FILES`].
    pub fn new(
        mut open: impl FnMut(&str) -> std::io::Result<Box<dyn Write + Send>>,
    ) -> std::io::Result<CsvSink> {
        let mut writers = Vec::new();
        for (name, header) in FILES {
            let mut writer = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(open(name)?);
            writer.write_record(header.split(','))?;
            writers.push(writer);
        }
        Ok(CsvSink { writers })
    }

    fn write<I, T>(&mut self, file: usize, record: I) -> std::io::Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.writers[file].write_record(record)?;
        Ok(())
    }
}

impl Sink for CsvSink {
    fn person(&mut self, p: &PersonRecord) -> std::io::Result<()> {
        let joined = p.joined_on.to_string();
        let left = opt_date(p.left_on);
        self.write(
            0,
            [p.person_id.as_str(), &p.name, opt(&p.email), &joined, &left],
        )
    }

    fn unit(&mut self, u: &UnitRecord) -> std::io::Result<()> {
        let from = u.valid_from.to_string();
        let to = opt_date(u.valid_to);
        self.write(
            1,
            [
                u.unit_id.as_str(),
                &u.name,
                opt(&u.parent_unit_id),
                &from,
                &to,
            ],
        )
    }

    fn assignment(&mut self, a: &AssignmentRecord) -> std::io::Result<()> {
        let from = a.valid_from.to_string();
        self.write(
            2,
            [a.person_id.as_str(), &a.unit_id, opt(&a.manager_id), &from],
        )
    }

    fn node(&mut self, n: &NodeRecord) -> std::io::Result<()> {
        let created = n.created_on.to_string();
        let flagpole = if n.flagpole { "true" } else { "false" };
        self.write(
            3,
            [
                n.node_id.as_str(),
                n.kind.as_str(),
                &n.title,
                opt(&n.lead_id),
                &created,
                n.status.as_str(),
                flagpole,
                &n.description,
            ],
        )
    }

    fn edge(&mut self, e: &EdgeRecord) -> std::io::Result<()> {
        let weight = e.weight.to_string();
        let (from, to) = (opt_date(e.valid_from), opt_date(e.valid_to));
        self.write(4, [e.parent_id.as_str(), &e.child_id, &weight, &from, &to])
    }

    fn member(&mut self, m: &MemberRecord) -> std::io::Result<()> {
        let joined = m.joined_on.to_string();
        let left = opt_date(m.left_on);
        self.write(
            5,
            [m.node_id.as_str(), &m.person_id, &m.role, &joined, &left],
        )
    }

    fn contribution(&mut self, c: &ContributionRecord) -> std::io::Result<()> {
        let date = c.date.to_string();
        let effort = c.effort.to_string();
        let confirmed = if c.confirmed { "true" } else { "false" };
        self.write(
            6,
            [
                c.contribution_id.as_str(),
                &c.person_id,
                &c.node_id,
                c.phase.as_str(),
                &date,
                &effort,
                &c.description,
                confirmed,
            ],
        )
    }

    fn outcome(&mut self, o: &OutcomeRecord) -> std::io::Result<()> {
        let date = o.date.to_string();
        let value = o.value.to_string();
        self.write(
            7,
            [
                o.outcome_id.as_str(),
                &o.node_id,
                &date,
                &value,
                &o.description,
            ],
        )
    }

    fn handover(&mut self, h: &HandoverRecord) -> std::io::Result<()> {
        let date = h.date.to_string();
        self.write(
            8,
            [
                h.node_id.as_str(),
                &date,
                opt(&h.from_lead_id),
                opt(&h.to_lead_id),
                &h.note,
                opt(&h.from_unit_id),
                opt(&h.to_unit_id),
            ],
        )
    }

    fn rating(&mut self, r: &RatingRow<'_>) -> std::io::Result<()> {
        let score = r.score.to_string();
        self.write(
            9,
            [
                r.cycle_id,
                r.rater_id,
                r.ratee_id,
                r.relationship,
                r.dimension,
                &score,
                "",
                r.ratee_unit,
                r.rater_unit,
            ],
        )
    }

    fn cycle(
        &mut self,
        cycle_id: &str,
        starts_on: NaiveDate,
        ends_on: NaiveDate,
    ) -> std::io::Result<()> {
        let name = format!("Review {cycle_id}");
        let (from, to) = (starts_on.to_string(), ends_on.to_string());
        self.write(12, [cycle_id, &name, &from, &to, "review"])
    }

    fn truth(
        &mut self,
        person_id: &str,
        true_performance: f64,
        expected_rating: f64,
    ) -> std::io::Result<()> {
        let value = format!("{true_performance:.6}");
        let expected = format!("{expected_rating:.6}");
        self.write(10, [person_id, &value, &expected])
    }

    fn truth_contribution(
        &mut self,
        person_id: &str,
        node_id: &str,
        period: &str,
        true_value: f64,
    ) -> std::io::Result<()> {
        let value = format!("{true_value:.4}");
        self.write(11, [person_id, node_id, period, &value])
    }

    fn finish(&mut self) -> std::io::Result<()> {
        for writer in &mut self.writers {
            writer.flush()?;
        }
        Ok(())
    }
}
