//! The valuetree side of the SourceCred comparison (`bench/sourcecred/run.sh`): loads the
//! TSV graph SourceCred's CredRank scored (path in `VALUETREE_TSV`) into the credit engine and
//! credits it.
//!
//! Conversion: NEED/OBJECTIVE/PROJECT/DELIVERABLE nodes become value-tree nodes; a SUPPORTS
//! edge child → parent becomes a link parent → child (a parent's children share its value
//! equally); DEPENDS j → k becomes a link j → k carrying a quarter of j's value, split among
//! j's dependencies (kept only from a later to an earlier deliverable, so the tree stays
//! acyclic); AUTHORS user → deliverable becomes a confirmed build contribution of 1 effort unit
//! on the edge's date; a node's minted value becomes an outcome at the end of the period.

/// The shipped `valuetree` binary's allocator, so the engine is measured as it runs there.
#[path = "../src/allocator.rs"]
mod allocator;

use std::collections::HashMap;
use std::time::Instant;
use valuetree_core::credit::{
    CreditContribution, CreditData, CreditEdge, CreditOutcome, Engine, Policy, Status,
};
use valuetree_core::domain::Phase;

const UNIX_EPOCH_DAY: i32 = 719_163;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let Ok(path) = std::env::var("VALUETREE_TSV") else {
        println!("set VALUETREE_TSV to a graph written by bench/sourcecred/credrank.js");
        return;
    };
    let started = Instant::now();
    let mut file = std::io::BufReader::with_capacity(
        1 << 20,
        std::fs::File::open(&path).expect("open the TSV graph"),
    );
    let mut data = CreditData::default();
    let mut mints: Vec<(u32, f64)> = Vec::new();
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut depends: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut last_day = i32::MIN;
    let day = |ms: &str| {
        ms.parse::<i64>().map_or(UNIX_EPOCH_DAY, |ms| {
            UNIX_EPOCH_DAY + (ms / 86_400_000) as i32
        })
    };
    // The driver names nodes `c<j>` and people `user<i>`: index them by number, not by hash.
    let (mut node_of, mut person_of): (Vec<u32>, Vec<u32>) = (Vec::new(), Vec::new());
    let number = |id: &str, prefix: &str| {
        id.strip_prefix(prefix)
            .and_then(|n| n.parse::<usize>().ok())
    };
    let mut line = String::new();
    loop {
        line.clear();
        if std::io::BufRead::read_line(&mut file, &mut line).expect("read the TSV graph") == 0 {
            break;
        }
        let mut f = line.trim_end_matches(['\n', '\r']).split('\t');
        let (Some(kind), Some(a), Some(b), Some(c), Some(d)) =
            (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        match (kind, c) {
            ("N", _) if b == "USER" => {
                let i = number(a, "user").expect("user<i>");
                if person_of.len() <= i {
                    person_of.resize(i + 1, u32::MAX);
                }
                person_of[i] = data.person(a);
            }
            ("N", mint) => {
                let j = number(a, "c").expect("c<j>");
                if node_of.len() <= j {
                    node_of.resize(j + 1, u32::MAX);
                }
                node_of[j] = data.node(a, a);
                let mint: f64 = mint.parse().unwrap_or(0.0);
                if mint > 0.0 {
                    mints.push((node_of[j], mint));
                }
            }
            ("E", "SUPPORTS") => {
                let (child, parent) = (
                    node_of[number(a, "c").expect("c<j>")],
                    node_of[number(b, "c").expect("c<j>")],
                );
                children.entry(parent).or_default().push(child);
            }
            ("E", "DEPENDS") => {
                let (from, to) = (
                    node_of[number(a, "c").expect("c<j>")],
                    node_of[number(b, "c").expect("c<j>")],
                );
                if to < from {
                    depends.entry(from).or_default().push(to);
                }
            }
            ("E", "AUTHORS") => {
                let contribution = CreditContribution {
                    person: person_of[number(a, "user").expect("user<i>")],
                    node: node_of[number(b, "c").expect("c<j>")],
                    phase: Phase::Build,
                    date: day(d),
                    effort: 1.0,
                    status: Status::Confirmed,
                };
                last_day = last_day.max(contribution.date);
                data.contributions.push(contribution);
            }
            _ => {}
        }
    }
    // A parent's children share its value equally; a deliverable passes a quarter of its value
    // to what it depends on.
    let mut edges = links(children, 1.0);
    edges.extend(links(depends, 0.25));
    data.edges = edges;
    data.outcomes = mints
        .into_iter()
        .enumerate()
        .map(|(i, (node, value))| CreditOutcome {
            id: format!("mint{i}"),
            node,
            date: last_day,
            value,
        })
        .collect();
    let (people, nodes, contributions, links, outcomes) = (
        data.people.len(),
        data.nodes.len(),
        data.contributions.len(),
        data.edges.len(),
        data.outcomes.len(),
    );
    let loaded = started.elapsed().as_secs_f64();
    let engine_started = Instant::now();
    let engine = Engine::new(data, Policy::default()).expect("an acyclic graph");
    let credited = engine_started.elapsed().as_secs_f64();
    println!(
        "valuetree credit: {people} people, {nodes} nodes, {links} links, {contributions} contributions, {outcomes} outcomes; \
         load+convert {loaded:.2} s, engine {credited:.3} s, total {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let mut top: Vec<(u32, f64)> = (0..people as u32).map(|p| (p, engine.credit(p))).collect();
    top.sort_by(|a, b| b.1.total_cmp(&a.1));
    let total = engine.total_value();
    for (p, c) in top.into_iter().take(5) {
        println!(
            "  {}\tcredit={c:.2} ({:.1}% of the value realised)",
            engine.people()[p as usize],
            100.0 * c / total
        );
    }
}

/// Links parent → each distinct child, the children sharing `total` equally, in a fixed order.
fn links(children: HashMap<u32, Vec<u32>>, total: f64) -> Vec<CreditEdge> {
    let mut parents: Vec<(u32, Vec<u32>)> = children.into_iter().collect();
    parents.sort_unstable_by_key(|(p, _)| *p);
    let mut edges = Vec::new();
    for (parent, mut kids) in parents {
        kids.sort_unstable();
        kids.dedup();
        let weight = total / kids.len() as f64;
        edges.extend(kids.into_iter().map(|child| CreditEdge {
            parent,
            child,
            weight,
            from: None,
            to: None,
        }));
    }
    edges
}
