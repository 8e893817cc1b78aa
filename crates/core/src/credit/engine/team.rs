//! The team view: credit as an org-chart tool would give it, for the diagnostics' "credit
//! kept" (see `docs/diagnostics.md`).
//!
//! The value flows down the tree exactly as valuetree's does (the same arrivals at every
//! node); at a node, only the contributors the [`TeamRule`] lets count on an arrival's date
//! share it — the people in the node's lead's unit on that date. Everything else follows the
//! policy in force, with the other contributions weighing zero; an arrival nobody may share
//! stays unattributed.
//!
//! Under the default policy (no peer allocation, no cap) a node is one sweep: each
//! contribution counts for one or a few runs of arrivals (where its person qualifies), so the
//! phase totals are difference arrays and each contribution's credit is its weight times a
//! difference of prefix sums. With peer allocation or a cap, each arrival is allocated on its
//! own among the qualifying contributions (slower; the cap then applies per outcome date).

use super::allocate::AllocScratch;
use super::*;

/// Who may share the value that reaches a node under the team view.
pub trait TeamRule: Sync {
    /// For every person of `people` (engine indices, sorted) at `node`, appends to the
    /// matching entry of `spans` the inclusive day spans within `[from, to]` on which they
    /// count at the node, in order and not overlapping. `spans` has one empty list per person.
    fn spans(&self, node: u32, from: Day, to: Day, people: &[u32], spans: &mut [Vec<(Day, Day)>]);
}

/// One person's credit at one node, where valuetree's and the team view's differ.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TeamDifference {
    pub person: u32,
    pub node: u32,
    /// valuetree's credit to the person from this node.
    pub credit: f64,
    /// The team view's.
    pub team_credit: f64,
    /// The first date value reached the node while one of the person's contributions counted
    /// for valuetree but the person was off the team (`None`: never off the team; their
    /// credit differs only because others were).
    pub off_team_from: Option<Day>,
    /// The date of that contribution (the latest one off the team on that date).
    pub contribution_date: Option<Day>,
}

/// The team view's figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TeamView {
    /// Credit per engine person.
    pub credit: Vec<f64>,
    /// Everything the team view leaves unattributed (valuetree's unattributed included).
    pub unattributed: f64,
    /// Every (person, node) whose credit differs, by node then person.
    pub differences: Vec<TeamDifference>,
}

/// One node's part of the team view.
#[derive(Default)]
struct NodeTeam {
    credit: Vec<(u32, f64)>,
    unattributed: f64,
    differences: Vec<TeamDifference>,
}

/// A slot's arrival runs: it counts for arrivals `j0..j1` (indices into the node's sorted
/// arrivals).
#[derive(Clone, Copy)]
struct Run {
    slot: u32,
    j0: u32,
    j1: u32,
}

impl Engine {
    /// Credit under the team view that `rule` defines, over the same outcomes as this engine.
    pub fn team_view(&self, rule: &dyn TeamRule) -> TeamView {
        self.team_view_by(rule, false)
    }

    /// [`Engine::team_view`], by allocating each arrival on its own when `one_by_one` (the
    /// literal reading the sweep is tested against).
    pub(crate) fn team_view_by(&self, rule: &dyn TeamRule, one_by_one: bool) -> TeamView {
        let n = self.nodes.len();
        let first = &self.slot_pools[0].start;
        let total = first.last().copied().unwrap_or(0);
        let mid = first.partition_point(|s| *s < total / 2).min(n);
        let engine = self;
        let parts: Vec<Vec<NodeTeam>> = std::thread::scope(|scope| {
            let work = |range: std::ops::Range<usize>| {
                let mut scratch = AllocScratch::default();
                range
                    .filter(|v| !engine.arrivals.of(*v).is_empty())
                    .map(|v| engine.team_at(v, rule, one_by_one, &mut scratch))
                    .collect::<Vec<_>>()
            };
            let other = scope.spawn(move || work(mid..n));
            let mine = work(0..mid);
            vec![
                mine,
                other
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            ]
        });
        let mut credit = vec![Sum::default(); self.people.len()];
        let mut unattributed = Sum::default();
        let mut differences = Vec::new();
        for node in parts.into_iter().flatten() {
            for (p, c) in node.credit {
                credit[p as usize].add(c);
            }
            unattributed.add(node.unattributed);
            differences.extend(node.differences);
        }
        TeamView {
            credit: credit.iter().map(Sum::value).collect(),
            unattributed: unattributed.value(),
            differences,
        }
    }

    fn team_at(
        &self,
        node: usize,
        rule: &dyn TeamRule,
        one_by_one: bool,
        scratch: &mut AllocScratch,
    ) -> NodeTeam {
        let mut arrivals = self.arrivals.of(node).to_vec();
        if !arrivals.is_sorted_by_key(|a| a.date) {
            arrivals.sort_by_key(|a| a.date);
        }
        let dates: Vec<Day> = arrivals.iter().map(|a| a.date).collect();
        let m = dates.len();
        let (a, b) = self.slots_of(node);
        let slots: Vec<&Slot> = a.iter().chain(b).filter(|s| s.weight > 0.0).collect();
        let mut people: Vec<u32> = slots.iter().map(|s| s.person()).collect();
        people.sort_unstable();
        people.dedup();
        let local = |person: u32| people.binary_search(&person).unwrap_or(0);
        let mut spans = vec![Vec::new(); people.len()];
        rule.spans(node as u32, dates[0], dates[m - 1], &people, &mut spans);
        // Each person's spans as runs of arrival indices.
        let runs_of_person: Vec<Vec<(u32, u32)>> = spans
            .iter()
            .map(|list| {
                list.iter()
                    .map(|&(from, to)| {
                        let j0 = dates.partition_point(|d| *d < from) as u32;
                        let j1 = dates.partition_point(|d| *d <= to) as u32;
                        (j0, j1)
                    })
                    .filter(|(j0, j1)| j0 < j1)
                    .collect()
            })
            .collect();
        let mut everyone = Vec::with_capacity(slots.len());
        let mut team = Vec::with_capacity(slots.len());
        // Per person: the first arrival off the team and the contribution it concerns.
        let mut off: Vec<Option<(u32, Day)>> = vec![None; people.len()];
        for (i, slot) in slots.iter().enumerate() {
            let start = dates.partition_point(|d| *d < slot.date) as u32;
            if start as usize >= m {
                continue;
            }
            everyone.push(Run {
                slot: i as u32,
                j0: start,
                j1: m as u32,
            });
            let person = local(slot.person());
            let mut covered = start;
            for &(j0, j1) in &runs_of_person[person] {
                let j0 = j0.max(start);
                if j0 < j1 {
                    team.push(Run {
                        slot: i as u32,
                        j0,
                        j1,
                    });
                }
                if j0 <= covered {
                    covered = covered.max(j1);
                }
            }
            if (covered as usize) < m {
                let here = (covered, slot.date);
                off[person] = Some(match off[person] {
                    Some(seen) if seen.0 < here.0 || (seen.0 == here.0 && seen.1 >= here.1) => seen,
                    _ => here,
                });
            }
        }
        let mut out = NodeTeam::default();
        let mut credit = vec![(0.0f64, 0.0f64); people.len()];
        let simple =
            !one_by_one && self.policy.peer_factor == 0.0 && self.policy.max_share_per_node >= 1.0;
        if simple {
            self.sweep(&arrivals, &slots, &everyone, &mut |s, c| {
                credit[local(slots[s as usize].person())].0 += c;
            });
            out.unattributed = self.sweep(&arrivals, &slots, &team, &mut |s, c| {
                credit[local(slots[s as usize].person())].1 += c;
            });
        } else {
            self.allocate_with(node, &arrivals, scratch, &mut |p, c| {
                credit[local(p)].0 += c;
            });
            let mut unattributed = Sum::default();
            for (j, arrival) in arrivals.iter().enumerate() {
                let j = j as u32;
                // Slots of no weight were left out of `people`; they count for nothing anyway.
                let counts = |s: &Slot| {
                    people
                        .binary_search(&s.person())
                        .is_ok_and(|i| runs_of_person[i].iter().any(|&(j0, j1)| j0 <= j && j < j1))
                };
                let (_, lost) = self.allocate_counting(
                    node,
                    std::slice::from_ref(arrival),
                    scratch,
                    counts,
                    &mut |p, c| credit[local(p)].1 += c,
                );
                unattributed.add(lost);
            }
            out.unattributed = unattributed.value();
        }
        for (i, &person) in people.iter().enumerate() {
            let (everyone, team) = credit[i];
            out.credit.push((person, team));
            let off_team = off[i];
            let scale = everyone.abs().max(team.abs()).max(1e-300);
            if off_team.is_some() || (everyone - team).abs() > 1e-12 * scale {
                out.differences.push(TeamDifference {
                    person,
                    node: node as u32,
                    credit: everyone,
                    team_credit: team,
                    off_team_from: off_team.map(|(j, _)| dates[j as usize]),
                    contribution_date: off_team.map(|(_, d)| d),
                });
            }
        }
        out
    }

    /// Shares the arrivals among the runs (the default policy: phase pools by weight);
    /// calls `credit(slot, amount)` and returns what nobody could take.
    fn sweep(
        &self,
        arrivals: &[Arrival],
        slots: &[&Slot],
        runs: &[Run],
        credit: &mut dyn FnMut(u32, f64),
    ) -> f64 {
        let m = arrivals.len();
        let mut weight = vec![[0.0f64; 5]; m + 1];
        let mut count = vec![[0i64; 5]; m + 1];
        for run in runs {
            let slot = slots[run.slot as usize];
            let p = slot.phase();
            weight[run.j0 as usize][p] += slot.weight;
            weight[run.j1 as usize][p] -= slot.weight;
            count[run.j0 as usize][p] += 1;
            count[run.j1 as usize][p] -= 1;
        }
        let mut unattributed = Sum::default();
        let (mut totals, mut counted) = ([0.0f64; 5], [0i64; 5]);
        // coefficient[j][p] becomes the prefix sum of what a unit of weight earns before j.
        let mut coefficient = vec![[0.0f64; 5]; m + 1];
        for (j, arrival) in arrivals.iter().enumerate() {
            for p in 0..5 {
                totals[p] += weight[j][p];
                counted[p] += count[j][p];
            }
            let norm: f64 = (0..5)
                .filter(|p| counted[*p] > 0)
                .map(|p| self.phase_weight[p])
                .sum();
            let mut here = [0.0f64; 5];
            if norm <= 0.0 || arrival.amount == 0.0 {
                unattributed.add(arrival.amount);
            } else {
                for p in 0..5 {
                    if counted[p] > 0 && totals[p] > 0.0 {
                        here[p] = arrival.amount * self.phase_weight[p] / norm / totals[p];
                    }
                }
            }
            for p in 0..5 {
                coefficient[j + 1][p] = coefficient[j][p] + here[p];
            }
        }
        for run in runs {
            let slot = slots[run.slot as usize];
            let p = slot.phase();
            let earned = coefficient[run.j1 as usize][p] - coefficient[run.j0 as usize][p];
            if earned > 0.0 {
                credit(run.slot, slot.weight * earned);
            }
        }
        unattributed.value()
    }
}
