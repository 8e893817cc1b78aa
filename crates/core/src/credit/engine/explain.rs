//! Explanations: the literal, outcome-by-outcome reading of the policy.

use super::*;

impl Engine {
    /// Itemises the credit of the people `wanted` selects: one line per (outcome, node, phase),
    /// computed outcome by outcome (the slow, literal reading of the policy; the tests check
    /// that it adds up to the fast path's totals). A cap, if set, is not itemised.
    pub fn explain(&self, wanted: &dyn Fn(u32) -> bool) -> Vec<Explanation> {
        self.explain_at(wanted, None)
    }

    /// [`Engine::explain`] for the value that stays at one node only: every outcome is still
    /// followed down the tree, but only `node`'s contributions are itemised (a node's page
    /// must not itemise the whole organisation).
    pub fn explain_node(&self, node: u32) -> Vec<Explanation> {
        self.explain_at(&|_| true, Some(node))
    }

    /// How many outcomes leave some of their value at `node` (what a node's report counts).
    pub fn outcomes_reaching(&self, node: u32) -> usize {
        let mut scratch = self.scratch();
        self.outcomes
            .iter()
            .filter(|outcome| {
                let mut reached = false;
                self.propagate(
                    outcome.node,
                    outcome.date,
                    outcome.value,
                    &mut scratch,
                    &mut |v, a| reached |= v == node && a > 0.0,
                );
                reached
            })
            .count()
    }

    fn explain_at(&self, wanted: &dyn Fn(u32) -> bool, only: Option<u32>) -> Vec<Explanation> {
        let mut scratch = self.scratch();
        let mut lines: HashMap<(u32, u32, u8, u32), Explanation> = HashMap::new();
        for (index, outcome) in self.outcomes.iter().enumerate() {
            let mut stays = Vec::new();
            self.propagate(
                outcome.node,
                outcome.date,
                outcome.value,
                &mut scratch,
                &mut |v, a| stays.push((v, a)),
            );
            for (node, amount) in stays {
                if only.is_some_and(|only| only != node) {
                    continue;
                }
                let (first, second) = self.slots_of(node as usize);
                let counted: Vec<Slot> = first
                    .iter()
                    .chain(second)
                    .filter(|s| s.date <= outcome.date)
                    .copied()
                    .collect();
                let (mut totals, mut efforts) = ([0.0f64; 5], [0.0f64; 5]);
                let mut peer = PeerPools::new(self, node as usize);
                for s in &counted {
                    totals[s.phase()] += s.weight();
                    if s.weight > 0.0 {
                        efforts[s.phase()] += self.effort_of(node, s);
                    }
                    peer.join(s);
                }
                peer.advance(outcome.date);
                let norm: f64 = (0..5)
                    .filter(|p| totals[*p] > 0.0)
                    .map(|p| self.phase_weight[p])
                    .sum();
                if norm <= 0.0 {
                    continue;
                }
                let blank = |person: u32, p: usize| Explanation {
                    person,
                    amount: 0.0,
                    node,
                    phase: PHASES[p],
                    effort: 0.0,
                    phase_effort: efforts[p],
                    points: 0.0,
                    phase_points: 0.0,
                    outcome: index as u32,
                    node_value: amount,
                    phase_pool: amount * self.phase_weight[p] / norm,
                };
                let mut by_effort = [0.0f64; 5];
                for p in 0..5 {
                    if totals[p] > 0.0 {
                        let pool = amount * self.phase_weight[p] / norm;
                        let mut peer_part = Vec::new();
                        by_effort[p] = peer.share(p, pool, &mut |x, a| peer_part.push((x, a)));
                        for (person, share) in peer_part {
                            if wanted(person) {
                                let l = lines
                                    .entry((person, index as u32, p as u8, node))
                                    .or_insert_with(|| blank(person, p));
                                l.amount += share;
                                l.points = peer.points_of(person);
                                l.phase_points = peer.pool_points(p);
                            }
                        }
                    }
                }
                for s in &counted {
                    if !wanted(s.person()) || s.weight <= 0.0 {
                        continue;
                    }
                    let p = s.phase();
                    let l = lines
                        .entry((s.person(), index as u32, p as u8, node))
                        .or_insert_with(|| blank(s.person(), p));
                    l.amount += by_effort[p] * s.weight() / totals[p];
                    l.effort += self.effort_of(node, s);
                }
            }
        }
        let mut out: Vec<Explanation> = lines.into_values().collect();
        out.sort_by(|a, b| {
            (
                a.person,
                self.outcomes[a.outcome as usize].date,
                a.outcome,
                a.node,
                a.phase,
            )
                .cmp(&(
                    b.person,
                    self.outcomes[b.outcome as usize].date,
                    b.outcome,
                    b.node,
                    b.phase,
                ))
        });
        out
    }
}
