//! Peer allocation inside a node's phase pools.
//!
//! With `peer_factor` f > 0, each phase pool of a node is split: (1 − f) by effort, as always,
//! and f by the peer points the pool's contributors received at the node (allocations dated
//! on or before the outcome). Only the pool's own contributors take part, so nobody is
//! credited without a contribution, and the pool is shared out exactly. A pool whose
//! contributors received no points is shared by effort alone.

use super::*;
use std::collections::BTreeSet;

pub(super) struct PeerPools<'e> {
    factor: f64,
    given: &'e [(Day, u32, f64)],
    next: usize,
    points: HashMap<u32, f64>,
    /// The contributors counted so far (positive weight), per phase.
    members: [BTreeSet<u32>; 5],
}

impl<'e> PeerPools<'e> {
    pub(super) fn new(engine: &'e Engine, node: usize) -> PeerPools<'e> {
        let given = match engine.peer.get(&(node as u32)) {
            Some(list) if engine.policy.peer_factor > 0.0 => list.as_slice(),
            _ => &[],
        };
        PeerPools {
            factor: engine.policy.peer_factor,
            given,
            next: 0,
            points: HashMap::new(),
            members: Default::default(),
        }
    }

    fn active(&self) -> bool {
        !self.given.is_empty()
    }

    /// A slot now counted (its date is on or before the outcome's).
    pub(super) fn join(&mut self, slot: &Slot) {
        if self.active() && slot.weight > 0.0 {
            self.members[slot.phase()].insert(slot.person());
        }
    }

    /// The slots that can join a pool, by the first arrival they count for (empty when peer
    /// allocation plays no part at this node).
    pub(super) fn joining_order(
        &self,
        slots: impl Iterator<Item = (&'e Slot, u32)>,
    ) -> std::iter::Peekable<std::vec::IntoIter<(usize, &'e Slot)>> {
        let mut order: Vec<(usize, &Slot)> = if self.active() {
            slots
                .filter(|(s, _)| s.weight > 0.0)
                .map(|(s, b)| (b as usize, s))
                .collect()
        } else {
            Vec::new()
        };
        order.sort_by_key(|(bucket, _)| *bucket);
        order.into_iter().peekable()
    }

    /// Joins the slots that count for arrival `j`.
    pub(super) fn join_until(
        &mut self,
        order: &mut std::iter::Peekable<std::vec::IntoIter<(usize, &'e Slot)>>,
        j: usize,
    ) {
        while let Some((_, slot)) = order.next_if(|(bucket, _)| *bucket <= j) {
            self.join(slot);
        }
    }

    /// Counts the points given on or before `date`.
    pub(super) fn advance(&mut self, date: Day) {
        while self.next < self.given.len() && self.given[self.next].0 <= date {
            let (_, person, points) = self.given[self.next];
            *self.points.entry(person).or_default() += points;
            self.next += 1;
        }
    }

    pub(super) fn points_of(&self, person: u32) -> f64 {
        self.points.get(&person).copied().unwrap_or(0.0)
    }

    /// The points received by the contributors of a phase pool.
    pub(super) fn pool_points(&self, phase: usize) -> f64 {
        self.members[phase].iter().map(|p| self.points_of(*p)).sum()
    }

    /// Splits `pool` of `phase`: hands the peer part to `credit`, person by person, and
    /// returns the part to share by effort.
    pub(super) fn share(&self, phase: usize, pool: f64, credit: &mut dyn FnMut(u32, f64)) -> f64 {
        if !self.active() {
            return pool;
        }
        let total = self.pool_points(phase);
        if total <= 0.0 {
            return pool;
        }
        for &person in &self.members[phase] {
            let points = self.points_of(person);
            if points > 0.0 {
                credit(person, pool * self.factor * points / total);
            }
        }
        pool * (1.0 - self.factor)
    }
}
