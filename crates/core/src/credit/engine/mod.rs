//! The attribution engine: value realised anywhere on the tree reaches everyone who worked
//! for it.
//!
//! For each outcome, the value flows down the DAG from the outcome's node: every child linked
//! on the outcome's date receives `weight × value`, the rest stays at the node. What stays is
//! split into phase pools (phase weights renormalised over the phases that have counting
//! contributions on or before the outcome's date) and, within a pool, shared by effort ×
//! confirmation factor (× time decay). A node with nothing to count keeps its value as
//! *unattributed* — never dropped, never spread.
//!
//! The fast path never looks at one outcome against one contribution: at each node the
//! arrivals of value are sorted by date, the phase totals are prefix sums over the node's
//! contributions sorted by date, and each contribution's credit is its weight times a suffix
//! sum of per-arrival coefficients. Work is linear in contributions + arrivals.

use super::policy::Policy;
use crate::domain::Phase;
use chrono::{Datelike, NaiveDate};
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, HashMap};

/// A date as a day number (days from the common era), for cheap comparisons.
pub type Day = i32;

pub fn day(date: NaiveDate) -> Day {
    date.num_days_from_ce()
}

pub fn date_of(day: Day) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day).unwrap_or_default()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Confirmed,
    Unconfirmed,
    Retracted,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CreditNode {
    pub id: String,
    pub title: String,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CreditEdge {
    pub parent: u32,
    pub child: u32,
    pub weight: f64,
    pub from: Option<Day>,
    pub to: Option<Day>,
}

impl CreditEdge {
    fn valid_on(&self, day: Day) -> bool {
        self.from.is_none_or(|f| f <= day) && self.to.is_none_or(|t| day <= t)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CreditContribution {
    pub person: u32,
    pub node: u32,
    pub phase: Phase,
    pub date: Day,
    pub effort: f64,
    pub status: Status,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CreditOutcome {
    pub id: String,
    pub node: u32,
    pub date: Day,
    pub value: f64,
}

/// Peer points a person received at a node (from one allocation), counted for outcomes dated
/// on or after `date`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CreditPeerPoints {
    pub node: u32,
    pub person: u32,
    pub date: Day,
    pub points: f64,
}

/// The engine's input: plain data with people and nodes interned to small integers.
#[derive(Clone, Debug, Default)]
pub struct CreditData {
    pub people: Vec<String>,
    pub nodes: Vec<CreditNode>,
    pub edges: Vec<CreditEdge>,
    pub contributions: Vec<CreditContribution>,
    pub outcomes: Vec<CreditOutcome>,
    pub peer_points: Vec<CreditPeerPoints>,
    /// FxHash: interning millions of ids is the loader's hot path, and the keys are ours.
    person_index: FxHashMap<String, u32>,
    node_index: FxHashMap<String, u32>,
}

impl CreditData {
    /// The index of person `id`, added if new.
    pub fn person(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.person_index.get(id) {
            return i;
        }
        let i = self.people.len() as u32;
        self.people.push(id.to_string());
        self.person_index.insert(id.to_string(), i);
        i
    }

    /// The index of node `id`, added if new (a later title replaces an empty one).
    pub fn node(&mut self, id: &str, title: &str) -> u32 {
        if let Some(&i) = self.node_index.get(id) {
            if self.nodes[i as usize].title.is_empty() {
                self.nodes[i as usize].title = title.to_string();
            }
            return i;
        }
        let i = self.nodes.len() as u32;
        self.nodes.push(CreditNode {
            id: id.to_string(),
            title: title.to_string(),
        });
        self.node_index.insert(id.to_string(), i);
        i
    }

    pub fn find_person(&self, id: &str) -> Option<u32> {
        self.person_index.get(id).copied()
    }

    pub fn find_node(&self, id: &str) -> Option<u32> {
        self.node_index.get(id).copied()
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CreditError {
    #[error("the value tree has a cycle through node {0}; run `valuetree verify`")]
    Cycle(String),
    #[error("invalid policy: {0}")]
    Policy(#[from] crate::credit::PolicyError),
    #[error("{0} people are more than the credit engine holds ({MAX_PEOPLE})")]
    TooManyPeople(usize),
}

/// People are numbered in 27 bits (a slot packs the phase and status beside the person).
pub const MAX_PEOPLE: usize = 1 << 27;

/// A compensated (Neumaier) running sum: conservation holds to rounding, not to luck.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sum {
    sum: f64,
    compensation: f64,
}

impl Sum {
    pub fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.compensation += (self.sum - t) + x;
        } else {
            self.compensation += (x - t) + self.sum;
        }
        self.sum = t;
    }

    pub fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// A contribution as the engine keeps it at its node: 16 bytes, because laying ten million of
/// them out by node is memory traffic first.
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// effort × confirmation factor × decay (relative to the node's first contribution).
    weight: f64,
    /// person << 5 | status << 3 | phase; the effort is weight / (factor × decay).
    packed: u32,
    date: Day,
}

impl Slot {
    fn person(&self) -> u32 {
        self.packed >> 5
    }

    fn phase(&self) -> usize {
        (self.packed & 7) as usize
    }

    fn status(&self) -> Status {
        match (self.packed >> 3) & 3 {
            0 => Status::Confirmed,
            1 => Status::Unconfirmed,
            _ => Status::Retracted,
        }
    }

    fn weight(&self) -> f64 {
        self.weight
    }
}

/// Value that stayed at a node for one outcome.
#[derive(Clone, Copy, Debug, Default)]
struct Arrival {
    date: Day,
    amount: f64,
}

/// Contributions laid out by node.
#[derive(Clone, Default)]
struct SlotPool {
    start: Vec<usize>,
    slots: Vec<Slot>,
}

impl SlotPool {
    fn of(&self, node: usize) -> &[Slot] {
        self.start
            .get(node..node + 2)
            .map_or(&[], |s| &self.slots[s[0]..s[1]])
    }
}

/// Arrivals by node, each list in date order.
#[derive(Clone, Default)]
struct Arrivals {
    lists: Vec<Vec<Arrival>>,
}

impl Arrivals {
    fn of(&self, node: usize) -> &[Arrival] {
        self.lists.get(node).map_or(&[], Vec::as_slice)
    }

    fn push(&mut self, node: usize, arrival: Arrival) {
        if self.lists.len() <= node {
            self.lists.resize_with(node + 1, Vec::new);
        }
        self.lists[node].push(arrival);
    }
}

/// One line of an explanation: what a person got from one node, phase and outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    pub person: u32,
    pub amount: f64,
    pub node: u32,
    pub phase: Phase,
    /// The person's effort in this phase at this node, counted for the outcome.
    pub effort: f64,
    /// Everyone's effort in this phase at this node, counted for the outcome.
    pub phase_effort: f64,
    /// Peer points the person received at this node (counted for the outcome), and the
    /// points of everyone in the phase pool; both 0 when peer allocation played no part.
    pub points: f64,
    pub phase_points: f64,
    pub outcome: u32,
    /// The part of the outcome's value that stays at this node (after what flowed on to
    /// the nodes it serves).
    pub node_value: f64,
    /// This phase's pool of it: `node_value` × the phase's weight among the phases with work.
    /// `amount` is the person's share of the pool (by weighted effort, and peer points when
    /// the policy counts them).
    pub phase_pool: f64,
}

const PHASES: [Phase; 5] = [
    Phase::Discover,
    Phase::Design,
    Phase::Build,
    Phase::Launch,
    Phase::Operate,
];

fn phase_index(phase: Phase) -> u8 {
    PHASES.iter().position(|p| *p == phase).unwrap_or(0) as u8
}

/// One thread's share of the allocation: per-person sums, and (node, credited, unattributed).
type NodeShares = (Vec<Sum>, Vec<(usize, f64, f64)>);

/// Scratch space for propagating one outcome.
struct Scratch {
    amount: Vec<f64>,
    mark: Vec<u32>,
    epoch: u32,
    reached: Vec<u32>,
    stack: Vec<u32>,
}

/// Clone: a long-running reader keeps the engine of its published snapshot and updates a
/// copy for the next one.
#[derive(Clone)]
pub struct Engine {
    policy: Policy,
    phase_weight: [f64; 5],
    people: Vec<String>,
    nodes: Vec<CreditNode>,
    /// Where each person and node is in `people` and `nodes` (an incremental add looks its
    /// ids up; a scan of every person per new contribution was a server's hot path).
    person_index: FxHashMap<String, u32>,
    node_index: FxHashMap<String, u32>,
    /// Edges sorted by parent; `child_start[v]..child_start[v + 1]` are v's children.
    child_start: Vec<usize>,
    child_edges: Vec<CreditEdge>,
    topo_rank: Vec<u32>,
    /// Contributions by node (in input order), in two pools (each half of the input, laid out
    /// by its own thread): node v's are `pool.slots[pool.start[v]..pool.start[v + 1]]` in both.
    slot_pools: [SlotPool; 2],
    /// Nodes whose contributions changed after construction (incremental adds).
    grown: HashMap<u32, Vec<Slot>>,
    /// The date decay is measured from, per node (its first contribution).
    decay_origin: Vec<Day>,
    /// Peer points by node, sorted by date: (date, recipient, points).
    peer: HashMap<u32, Vec<(Day, u32, f64)>>,
    outcomes: Vec<CreditOutcome>,
    /// What stayed at each node, per outcome date, in date order (a CSR layout: one pool).
    arrivals: Arrivals,
    person_credit: Vec<Sum>,
    node_credited: Vec<Sum>,
    node_unattributed: Vec<Sum>,
    total_value: Sum,
}

mod allocate;
mod explain;
mod incremental;
mod peer;
mod spread;
mod team;
use peer::PeerPools;
pub use team::{TeamDifference, TeamRule, TeamView};

impl Engine {
    /// Builds the engine and credits every outcome of `data`.
    pub fn new(data: CreditData, policy: Policy) -> Result<Engine, CreditError> {
        policy.validate()?;
        if data.people.len() >= MAX_PEOPLE {
            return Err(CreditError::TooManyPeople(data.people.len()));
        }
        let n = data.nodes.len();
        let mut child_edges = data.edges;
        child_edges.sort_by_key(|e| (e.parent, e.child));
        let mut child_start = vec![0usize; n + 1];
        for e in &child_edges {
            child_start[e.parent as usize + 1] += 1;
        }
        for v in 0..n {
            child_start[v + 1] += child_start[v];
        }
        let topo_rank = topological_ranks(n, &child_start, &child_edges)
            .map_err(|v| CreditError::Cycle(data.nodes[v].id.clone()))?;
        let w = &policy.phase_weights;
        let phase_weight = [w.discover, w.design, w.build, w.launch, w.operate];
        let mut engine = Engine {
            phase_weight,
            people: data.people,
            nodes: data.nodes,
            person_index: data.person_index,
            node_index: data.node_index,
            child_start,
            child_edges,
            topo_rank,
            slot_pools: [SlotPool::default(), SlotPool::default()],
            grown: HashMap::new(),
            decay_origin: vec![Day::MAX; n],
            peer: HashMap::new(),
            outcomes: Vec::new(),
            arrivals: Arrivals::default(),
            person_credit: Vec::new(),
            node_credited: vec![Sum::default(); n],
            node_unattributed: vec![Sum::default(); n],
            total_value: Sum::default(),
            policy,
        };
        engine.person_credit = vec![Sum::default(); engine.people.len()];
        // Decay is measured from each node's first contribution (only needed with decay on).
        if engine.policy.half_life_days > 0.0 {
            for c in &data.contributions {
                let origin = &mut engine.decay_origin[c.node as usize];
                *origin = (*origin).min(c.date);
            }
        }
        for p in &data.peer_points {
            engine
                .peer
                .entry(p.node)
                .or_default()
                .push((p.date, p.person, p.points));
        }
        for list in engine.peer.values_mut() {
            list.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)).then(a.2.total_cmp(&b.2)));
        }
        engine.place_slots(&data.contributions);
        drop(data.contributions);
        engine.spread_all(data.outcomes);
        engine.allocate_all();
        Ok(engine)
    }

    /// Lays the contributions out by node: each half of the input by its own thread (a
    /// counting sort), so each thread reads and writes only its half. Within a node they stay
    /// in input order: `allocate` buckets them by arrival instead of sorting them by date.
    fn place_slots(&mut self, contributions: &[CreditContribution]) {
        let n = self.nodes.len();
        let engine = &*self;
        let lay_out = |part: &[CreditContribution]| {
            let mut start = vec![0usize; n + 1];
            for c in part {
                start[c.node as usize + 1] += 1;
            }
            for v in 0..n {
                start[v + 1] += start[v];
            }
            let empty = Slot {
                weight: 0.0,
                packed: 0,
                date: 0,
            };
            let mut slots = vec![empty; part.len()];
            let mut cursor = start[..n].to_vec();
            for c in part {
                let at = &mut cursor[c.node as usize];
                slots[*at] = engine.slot(c);
                *at += 1;
            }
            SlotPool { start, slots }
        };
        let (first, second) = contributions.split_at(contributions.len() / 2);
        let pools = std::thread::scope(|scope| {
            let other = scope.spawn(|| lay_out(second));
            let mine = lay_out(first);
            [
                mine,
                other
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            ]
        });
        self.slot_pools = pools;
    }

    /// The contributions at `node` (in two parts: the two pools, or a grown node's list).
    fn slots_of(&self, node: usize) -> (&[Slot], &[Slot]) {
        match self.grown.get(&(node as u32)) {
            Some(slots) => (slots, &[]),
            None => (self.slot_pools[0].of(node), self.slot_pools[1].of(node)),
        }
    }

    fn factor(&self, status: Status) -> f64 {
        match status {
            Status::Confirmed => self.policy.confirmation.confirmed,
            Status::Unconfirmed => self.policy.confirmation.unconfirmed,
            Status::Retracted => self.policy.confirmation.retracted,
        }
    }

    fn decay(&self, node: u32, date: Day) -> f64 {
        if self.policy.half_life_days > 0.0 {
            let origin = self.decay_origin[node as usize];
            // Relative to the node's first contribution; the outcome's own date cancels out of
            // every share, so no outcome needs its own weights.
            (f64::from(date - origin) / self.policy.half_life_days).exp2()
        } else {
            1.0
        }
    }

    fn slot(&self, c: &CreditContribution) -> Slot {
        let status = match c.status {
            Status::Confirmed => 0,
            Status::Unconfirmed => 1,
            Status::Retracted => 2,
        };
        Slot {
            packed: c.person << 5 | status << 3 | u32::from(phase_index(c.phase)),
            date: c.date,
            weight: c.effort.max(0.0) * self.factor(c.status) * self.decay(c.node, c.date),
        }
    }

    /// The effort a counting slot was recorded with (for explanations), to 9 decimals.
    fn effort_of(&self, node: u32, slot: &Slot) -> f64 {
        let scale = self.factor(slot.status()) * self.decay(node, slot.date);
        if scale > 0.0 {
            (slot.weight / scale * 1e9).round() / 1e9
        } else {
            0.0
        }
    }

    /// The index of person `id`, if they are known to the engine.
    pub fn find_person(&self, id: &str) -> Option<u32> {
        self.person_index.get(id).copied()
    }

    /// The index of node `id`, if it is known to the engine.
    pub fn find_node(&self, id: &str) -> Option<u32> {
        self.node_index.get(id).copied()
    }

    pub fn people(&self) -> &[String] {
        &self.people
    }

    pub fn nodes(&self) -> &[CreditNode] {
        &self.nodes
    }

    pub fn outcomes(&self) -> &[CreditOutcome] {
        &self.outcomes
    }

    pub fn credit(&self, person: u32) -> f64 {
        self.person_credit
            .get(person as usize)
            .map_or(0.0, Sum::value)
    }

    /// (credited, unattributed) at a node, over every outcome.
    pub fn node_totals(&self, node: u32) -> (f64, f64) {
        (
            self.node_credited[node as usize].value(),
            self.node_unattributed[node as usize].value(),
        )
    }

    pub fn total_value(&self) -> f64 {
        self.total_value.value()
    }

    pub fn total_credited(&self) -> f64 {
        let mut sum = Sum::default();
        self.person_credit.iter().for_each(|s| sum.add(s.value()));
        sum.value()
    }

    pub fn total_unattributed(&self) -> f64 {
        let mut sum = Sum::default();
        self.node_unattributed
            .iter()
            .for_each(|s| sum.add(s.value()));
        sum.value()
    }

    /// What each person received from one node, over every outcome.
    pub fn node_allocation(&self, node: u32) -> Vec<(u32, f64)> {
        let mut per_person: HashMap<u32, f64> = HashMap::new();
        self.allocate(
            node as usize,
            self.arrivals.of(node as usize),
            &mut |p, c| {
                *per_person.entry(p).or_default() += c;
            },
        );
        let mut out: Vec<(u32, f64)> = per_person.into_iter().collect();
        out.sort_by_key(|(p, _)| *p);
        out
    }

    /// The people with a standing (not retracted) contribution at a node dated on or before
    /// `until`, each once, sorted.
    pub fn contributors_of(&self, node: u32, until: Day) -> Vec<u32> {
        let (a, b) = self.slots_of(node as usize);
        let mut people: Vec<u32> = a
            .iter()
            .chain(b)
            .filter(|s| s.status() != Status::Retracted && s.date <= until)
            .map(Slot::person)
            .collect();
        people.sort_unstable();
        people.dedup();
        people
    }

    /// The first day value reached `node` (an outcome there or passed down to it), if any.
    pub fn first_value_day(&self, node: u32) -> Option<Day> {
        self.arrivals.of(node as usize).iter().map(|a| a.date).min()
    }

    /// The nodes a person contributed to.
    pub fn nodes_of(&self, person: u32) -> Vec<u32> {
        (0..self.nodes.len() as u32)
            .filter(|v| {
                let (a, b) = self.slots_of(*v as usize);
                a.iter().chain(b).any(|s| s.person() == person)
            })
            .collect()
    }
}

/// Kahn's algorithm; the rank of each node in a topological order, or a node on a cycle.
fn topological_ranks(n: usize, start: &[usize], edges: &[CreditEdge]) -> Result<Vec<u32>, usize> {
    let mut indegree = vec![0u32; n];
    for e in edges {
        indegree[e.child as usize] += 1;
    }
    let mut ready: Vec<usize> = (0..n).filter(|v| indegree[*v] == 0).collect();
    let mut rank = vec![u32::MAX; n];
    let mut next = 0u32;
    while let Some(v) = ready.pop() {
        rank[v] = next;
        next += 1;
        for e in &edges[start[v]..start[v + 1]] {
            let c = e.child as usize;
            indegree[c] -= 1;
            if indegree[c] == 0 {
                ready.push(c);
            }
        }
    }
    match rank.iter().position(|r| *r == u32::MAX) {
        Some(v) => Err(v),
        None => Ok(rank),
    }
}
