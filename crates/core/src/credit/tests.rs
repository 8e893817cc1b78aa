//! Tests of the attribution rules, and property tests on random DAGs.

use super::*;
use crate::domain::Phase;
use proptest::prelude::*;

fn contribution(
    person: u32,
    node: u32,
    phase: Phase,
    date: Day,
    effort: f64,
    status: Status,
) -> CreditContribution {
    CreditContribution {
        person,
        node,
        phase,
        date,
        effort,
        status,
    }
}

fn data(nodes: usize, people: usize) -> CreditData {
    let mut d = CreditData::default();
    for n in 0..nodes {
        d.node(&format!("N{n}"), &format!("Node {n}"));
    }
    for p in 0..people {
        d.person(&format!("P{p}"));
    }
    d
}

fn outcome(node: u32, date: Day, value: f64) -> CreditOutcome {
    CreditOutcome {
        id: format!("O{node}-{date}"),
        node,
        date,
        value,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn phases_share_by_weight_and_people_by_effort() {
    let mut d = data(1, 3);
    d.contributions = vec![
        contribution(0, 0, Phase::Design, 10, 3.0, Status::Confirmed),
        contribution(1, 0, Phase::Design, 11, 5.0, Status::Confirmed),
        contribution(2, 0, Phase::Build, 12, 4.0, Status::Unconfirmed),
    ];
    d.outcomes = vec![outcome(0, 20, 110.0)];
    let e = Engine::new(d, Policy::default()).expect("engine");
    // Only design (0.20) and build (0.35) have contributions: renormalised over 0.55.
    let design = 110.0 * 0.20 / 0.55;
    let build = 110.0 * 0.35 / 0.55;
    assert!(close(e.credit(0), design * 3.0 / 8.0));
    assert!(close(e.credit(1), design * 5.0 / 8.0));
    assert!(
        close(e.credit(2), build),
        "an unconfirmed contribution alone still takes its whole pool"
    );
    assert!(close(e.total_credited(), 110.0) && e.total_unattributed() == 0.0);
}

#[test]
fn value_flows_down_by_weight_and_the_rest_stays() {
    let mut d = data(3, 2);
    d.edges = vec![
        CreditEdge {
            parent: 0,
            child: 1,
            weight: 0.6,
            from: None,
            to: None,
        },
        // Linked only from day 50: an outcome on day 30 does not reach node 2.
        CreditEdge {
            parent: 0,
            child: 2,
            weight: 0.4,
            from: Some(50),
            to: None,
        },
    ];
    d.contributions = vec![
        contribution(0, 1, Phase::Build, 1, 1.0, Status::Confirmed),
        contribution(1, 2, Phase::Build, 1, 1.0, Status::Confirmed),
    ];
    d.outcomes = vec![outcome(0, 30, 100.0), outcome(0, 60, 100.0)];
    let e = Engine::new(d, Policy::default()).expect("engine");
    assert!(close(e.credit(0), 60.0 + 60.0));
    assert!(close(e.credit(1), 40.0));
    // Node 0 has no contributors: what stays there (40, then 0) is unattributed, not spread.
    assert!(close(e.node_totals(0).1, 40.0));
    assert!(close(e.total_credited() + e.total_unattributed(), 200.0));
}

#[test]
fn only_work_done_by_the_outcome_counts_and_retractions_count_nothing() {
    let mut d = data(1, 3);
    d.contributions = vec![
        contribution(0, 0, Phase::Build, 10, 2.0, Status::Confirmed),
        contribution(1, 0, Phase::Build, 30, 2.0, Status::Confirmed),
        contribution(2, 0, Phase::Build, 5, 9.0, Status::Retracted),
    ];
    d.outcomes = vec![outcome(0, 20, 100.0), outcome(0, 4, 50.0)];
    let e = Engine::new(d, Policy::default()).expect("engine");
    assert!(close(e.credit(0), 100.0));
    assert_eq!(
        e.credit(1),
        0.0,
        "work after the outcome does not count toward it"
    );
    assert_eq!(e.credit(2), 0.0);
    assert!(
        close(e.total_unattributed(), 50.0),
        "an outcome before any work stays unattributed"
    );
}

#[test]
fn a_cap_hands_the_excess_to_the_others() {
    let mut d = data(1, 3);
    d.contributions = vec![
        contribution(0, 0, Phase::Build, 1, 8.0, Status::Confirmed),
        contribution(1, 0, Phase::Build, 1, 1.0, Status::Confirmed),
        contribution(2, 0, Phase::Build, 1, 1.0, Status::Confirmed),
    ];
    d.outcomes = vec![outcome(0, 2, 100.0)];
    let policy = Policy {
        max_share_per_node: 0.5,
        ..Policy::default()
    };
    let e = Engine::new(d, policy).expect("engine");
    assert!(close(e.credit(0), 50.0));
    assert!(close(e.credit(1), 25.0) && close(e.credit(2), 25.0));
}

#[test]
fn decay_makes_older_work_count_less() {
    let mut d = data(1, 2);
    d.contributions = vec![
        contribution(0, 0, Phase::Build, 0, 1.0, Status::Confirmed),
        contribution(1, 0, Phase::Build, 30, 1.0, Status::Confirmed),
    ];
    d.outcomes = vec![outcome(0, 40, 300.0)];
    let e = Engine::new(
        d,
        Policy {
            half_life_days: 30.0,
            ..Policy::default()
        },
    )
    .expect("engine");
    assert!(close(e.credit(0), 100.0) && close(e.credit(1), 200.0));
}

#[test]
fn a_cycle_is_refused() {
    let mut d = data(2, 0);
    d.edges = vec![
        CreditEdge {
            parent: 0,
            child: 1,
            weight: 0.5,
            from: None,
            to: None,
        },
        CreditEdge {
            parent: 1,
            child: 0,
            weight: 0.5,
            from: None,
            to: None,
        },
    ];
    assert!(matches!(
        Engine::new(d, Policy::default()),
        Err(CreditError::Cycle(_))
    ));
}

// ---- property tests on random DAGs ------------------------------------------------------------

#[derive(Clone, Debug)]
struct World {
    nodes: usize,
    edges: Vec<CreditEdge>,
    contributions: Vec<CreditContribution>,
    outcomes: Vec<CreditOutcome>,
    peer_points: Vec<CreditPeerPoints>,
}

const PEOPLE: usize = 6;

/// The default policy with peer allocation on (40% of each pool by peer points).
fn peered() -> Policy {
    Policy {
        peer_factor: 0.4,
        ..Policy::default()
    }
}

fn phase(i: u8) -> Phase {
    [
        Phase::Discover,
        Phase::Design,
        Phase::Build,
        Phase::Launch,
        Phase::Operate,
    ][i as usize % 5]
}

fn world() -> impl Strategy<Value = World> {
    (2usize..9).prop_flat_map(|nodes| {
        let edges = prop::collection::vec(
            (
                0..nodes,
                0..nodes,
                1u32..100,
                prop::option::of(0i32..80),
                prop::option::of(0i32..80),
            ),
            0..16,
        );
        let contributions = prop::collection::vec(
            (
                0..PEOPLE as u32,
                0..nodes as u32,
                0u8..5,
                0i32..100,
                0u32..10,
                0u8..3,
            ),
            0..40,
        );
        let outcomes = prop::collection::vec((0..nodes as u32, 0i32..120, 0u32..1000), 1..8);
        // Points anyone may have received at a node (the ledger checks membership; the engine
        // must hold its rules whoever received them).
        let peer = prop::collection::vec(
            (0..nodes as u32, 0..PEOPLE as u32, 0i32..120, 1u32..100),
            0..12,
        );
        (Just(nodes), edges, contributions, outcomes, peer).prop_map(
            |(nodes, raw_edges, raw_contribs, raw_outcomes, raw_peer)| {
                // Edges only from a lower to a higher index: a DAG, with multi-parent nodes.
                let mut edges: Vec<CreditEdge> = Vec::new();
                for (a, b, w, from, len) in raw_edges {
                    let (parent, child) = (a.min(b) as u32, a.max(b) as u32);
                    if parent == child
                        || edges.iter().any(|e| e.parent == parent && e.child == child)
                    {
                        continue;
                    }
                    edges.push(CreditEdge {
                        parent,
                        child,
                        weight: f64::from(w),
                        from,
                        to: from.zip(len).map(|(f, l)| f + l),
                    });
                }
                // Each parent passes on at most 95% (its children's weights sum to ≤ 0.95).
                for parent in 0..nodes as u32 {
                    let total: f64 = edges
                        .iter()
                        .filter(|e| e.parent == parent)
                        .map(|e| e.weight)
                        .sum();
                    for e in edges.iter_mut().filter(|e| e.parent == parent) {
                        e.weight = e.weight / total.max(100.0) * 0.95;
                    }
                }
                let contributions = raw_contribs
                    .into_iter()
                    .map(
                        |(person, node, ph, date, effort, status)| CreditContribution {
                            person,
                            node,
                            phase: phase(ph),
                            date,
                            effort: f64::from(effort),
                            status: [Status::Confirmed, Status::Unconfirmed, Status::Retracted]
                                [status as usize],
                        },
                    )
                    .collect();
                let outcomes = raw_outcomes
                    .into_iter()
                    .enumerate()
                    .map(|(i, (node, date, value))| CreditOutcome {
                        id: format!("O{i}"),
                        node,
                        date,
                        value: f64::from(value),
                    })
                    .collect();
                let peer_points = raw_peer
                    .into_iter()
                    .map(|(node, person, date, points)| CreditPeerPoints {
                        node,
                        person,
                        date,
                        points: f64::from(points),
                    })
                    .collect();
                World {
                    nodes,
                    edges,
                    contributions,
                    outcomes,
                    peer_points,
                }
            },
        )
    })
}

fn engine(w: &World, policy: Policy) -> Engine {
    let mut d = data(w.nodes, PEOPLE);
    d.edges = w.edges.clone();
    d.contributions = w.contributions.clone();
    d.outcomes = w.outcomes.clone();
    d.peer_points = w.peer_points.clone();
    Engine::new(d, policy).expect("a DAG")
}

fn credits(e: &Engine) -> Vec<f64> {
    (0..PEOPLE as u32).map(|p| e.credit(p)).collect()
}

/// Nodes reachable from `root` over any edge (the subtree that can receive its value).
fn subtree(w: &World, root: u32) -> Vec<u32> {
    let mut seen = vec![root];
    let mut i = 0;
    while i < seen.len() {
        let v = seen[i];
        for e in w.edges.iter().filter(|e| e.parent == v) {
            if !seen.contains(&e.child) {
                seen.push(e.child);
            }
        }
        i += 1;
    }
    seen
}

/// A team rule for tests: person p counts at node v on the days where a hash of (p, v, the
/// ten-day block) is not a multiple of three.
struct PatchyTeams(u64);

impl TeamRule for PatchyTeams {
    fn spans(&self, node: u32, from: Day, to: Day, people: &[u32], spans: &mut [Vec<(Day, Day)>]) {
        for (person, out) in people.iter().zip(spans.iter_mut()) {
            for d in from..=to {
                let h = (u64::from(*person) * 31 + u64::from(node) * 17 + (d / 10) as u64)
                    .wrapping_mul(self.0 | 1)
                    >> 7;
                if !h.is_multiple_of(3) {
                    match out.last_mut() {
                        Some(last) if last.1 + 1 == d => last.1 = d,
                        _ => out.push((d, d)),
                    }
                }
            }
        }
    }
}

struct EveryoneCounts;

impl TeamRule for EveryoneCounts {
    fn spans(&self, _: u32, from: Day, to: Day, _: &[u32], spans: &mut [Vec<(Day, Day)>]) {
        spans.iter_mut().for_each(|s| s.push((from, to)));
    }
}

proptest! {
    #[test]
    fn the_team_view_with_everyone_on_the_team_is_valuetree(w in world()) {
        for policy in [Policy::default(), Policy { half_life_days: 20.0, ..Policy::default() }, peered()] {
            let e = engine(&w, policy);
            let team = e.team_view(&EveryoneCounts);
            for p in 0..PEOPLE as u32 {
                prop_assert!(close(team.credit[p as usize], e.credit(p)), "person {p}: {} vs {}", team.credit[p as usize], e.credit(p));
            }
            prop_assert!(close(team.unattributed, e.total_unattributed()));
            prop_assert!(team.differences.iter().all(|d| d.off_team_from.is_none()));
        }
    }

    #[test]
    fn kept_credit_sums_to_the_change_in_unattributed_value(w in world(), seed in any::<u64>()) {
        for policy in [Policy::default(), Policy { half_life_days: 20.0, ..Policy::default() }, peered(), Policy { max_share_per_node: 0.6, ..Policy::default() }] {
            let e = engine(&w, policy);
            let team = e.team_view(&PatchyTeams(seed));
            let kept: f64 = (0..PEOPLE as u32).map(|p| e.credit(p) - team.credit[p as usize]).sum();
            let total: f64 = w.outcomes.iter().map(|o| o.value).sum();
            prop_assert!((kept - (team.unattributed - e.total_unattributed())).abs() <= 1e-9 * total.max(1.0),
                "kept {kept} vs unattributed {} -> {}", e.total_unattributed(), team.unattributed);
            // The differences itemise each person's kept credit.
            for p in 0..PEOPLE as u32 {
                let itemised: f64 = team.differences.iter().filter(|d| d.person == p).map(|d| d.credit - d.team_credit).sum();
                let kept = e.credit(p) - team.credit[p as usize];
                prop_assert!((itemised - kept).abs() <= 1e-9 * total.max(1.0), "person {p}: {itemised} vs {kept}");
            }
        }
    }

    #[test]
    fn the_team_sweep_matches_the_literal_reading(w in world(), seed in any::<u64>()) {
        for policy in [Policy::default(), Policy { half_life_days: 20.0, ..Policy::default() }] {
            let e = engine(&w, policy);
            let (fast, literal) = (e.team_view(&PatchyTeams(seed)), e.team_view_by(&PatchyTeams(seed), true));
            for p in 0..PEOPLE as u32 {
                prop_assert!(close(fast.credit[p as usize], literal.credit[p as usize]), "person {p}: {} vs {}", fast.credit[p as usize], literal.credit[p as usize]);
            }
            prop_assert!(close(fast.unattributed, literal.unattributed));
        }
    }

    #[test]
    fn value_is_conserved(w in world()) {
        for policy in [Policy::default(), Policy { half_life_days: 20.0, max_share_per_node: 0.6, ..Policy::default() }, peered(), Policy { max_share_per_node: 0.6, ..peered() }] {
            let e = engine(&w, policy);
            let total: f64 = w.outcomes.iter().map(|o| o.value).sum();
            prop_assert!(close(e.total_credited() + e.total_unattributed(), total),
                "{} + {} != {}", e.total_credited(), e.total_unattributed(), total);
            for o in 0..w.nodes as u32 {
                let (credited, _) = e.node_totals(o);
                let allocated: f64 = e.node_allocation(o).iter().map(|(_, c)| c).sum();
                prop_assert!(close(credited, allocated));
            }
        }
    }

    #[test]
    fn more_effort_never_lowers_ones_credit(w in world(), pick in any::<prop::sample::Index>(), extra in 1u32..20) {
        prop_assume!(!w.contributions.is_empty());
        let i = pick.index(w.contributions.len());
        let person = w.contributions[i].person;
        for policy in [Policy::default(), peered()] {
            let before = engine(&w, policy.clone()).credit(person);
            let mut more = w.clone();
            more.contributions[i].effort += f64::from(extra);
            let after = engine(&more, policy).credit(person);
            prop_assert!(after >= before - 1e-9 * before.abs().max(1.0), "{before} -> {after}");
        }
    }

    #[test]
    fn nobody_is_credited_without_work_in_the_subtree_that_received_value(w in world()) {
        for e in [engine(&w, Policy::default()), engine(&w, peered())] {
        for p in 0..PEOPLE as u32 {
            let worked = w.outcomes.iter().any(|o| {
                let reach = subtree(&w, o.node);
                w.contributions.iter().any(|c| c.person == p && reach.contains(&c.node) && c.date <= o.date)
            });
            if !worked {
                prop_assert_eq!(e.credit(p), 0.0);
            }
        }
        }
    }

    #[test]
    fn import_order_does_not_matter(w in world(), seed in any::<u64>()) {
        let mut shuffled = w.clone();
        let mut rng = seed;
        let mut next = |n: usize| { rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1); (rng >> 33) as usize % n.max(1) };
        for list in 0..4 {
            let len = match list { 0 => shuffled.contributions.len(), 1 => shuffled.edges.len(), 2 => shuffled.outcomes.len(), _ => shuffled.peer_points.len() };
            for i in (1..len).rev() {
                let j = next(i + 1);
                match list { 0 => shuffled.contributions.swap(i, j), 1 => shuffled.edges.swap(i, j), 2 => shuffled.outcomes.swap(i, j), _ => shuffled.peer_points.swap(i, j) }
            }
        }
        for policy in [Policy::default(), peered()] {
            let (a, b) = (credits(&engine(&w, policy.clone())), credits(&engine(&shuffled, policy)));
            for (x, y) in a.iter().zip(&b) {
                prop_assert!(close(*x, *y), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn the_fast_path_matches_the_literal_reading(w in world()) {
        for policy in [Policy { half_life_days: 15.0, ..Policy::default() }, Policy { half_life_days: 15.0, ..peered() }] {
            let e = engine(&w, policy);
            let lines = e.explain(&|_| true);
            for p in 0..PEOPLE as u32 {
                let itemised: f64 = lines.iter().filter(|l| l.person == p).map(|l| l.amount).sum();
                prop_assert!(close(itemised, e.credit(p)), "person {p}: {itemised} vs {}", e.credit(p));
            }
            // One node's lines are the same whether the whole tree or that node is explained.
            for v in 0..e.nodes().len() as u32 {
                let whole: Vec<&Explanation> = lines.iter().filter(|l| l.node == v).collect();
                let alone = e.explain_node(v);
                prop_assert_eq!(whole.len(), alone.len());
                for (a, b) in whole.iter().zip(&alone) {
                    prop_assert!(a.person == b.person && a.outcome == b.outcome && a.phase == b.phase);
                    prop_assert!(close(a.amount, b.amount));
                }
            }
        }
    }

    #[test]
    fn incremental_updates_equal_a_recomputation(w in world(), extra in world()) {
        prop_assume!(extra.nodes <= w.nodes);
        for policy in [Policy::default(), Policy { half_life_days: 10.0, max_share_per_node: 0.7, ..Policy::default() }, peered()] {
            let mut growing = engine(&w, policy.clone());
            let mut all = w.clone();
            for c in extra.contributions.iter().take(5) {
                growing.add_contribution(*c);
                all.contributions.push(*c);
            }
            for o in extra.outcomes.iter().take(3) {
                growing.add_outcome(o.clone());
                all.outcomes.push(o.clone());
            }
            let full = engine(&all, policy.clone());
            for p in 0..PEOPLE as u32 {
                prop_assert!(close(growing.credit(p), full.credit(p)), "person {p}: {} vs {}", growing.credit(p), full.credit(p));
            }
            prop_assert!(close(growing.total_unattributed(), full.total_unattributed()));
            // Many contributions at once (a server catching up) land where one at a time do.
            let mut batched = engine(&w, policy.clone());
            batched.add_contributions(extra.contributions.iter().take(5).copied().collect());
            for o in extra.outcomes.iter().take(3) {
                batched.add_outcome(o.clone());
            }
            for p in 0..PEOPLE as u32 {
                prop_assert!(close(batched.credit(p), full.credit(p)), "person {p}: {} vs {}", batched.credit(p), full.credit(p));
            }
            for v in 0..full.nodes().len() as u32 {
                let (a, b) = (batched.node_totals(v), full.node_totals(v));
                prop_assert!(close(a.0, b.0) && close(a.1, b.1), "node {v}: {a:?} vs {b:?}");
            }
        }
    }
}

#[test]
fn peer_points_blend_with_effort_inside_a_pool() {
    let mut d = data(1, 3);
    d.contributions = vec![
        contribution(0, 0, Phase::Design, 10, 3.0, Status::Confirmed),
        contribution(1, 0, Phase::Design, 11, 1.0, Status::Confirmed),
    ];
    // P1 received 100 points by day 15; P2 (no contribution) 100 points: not in the pool.
    d.peer_points = vec![
        CreditPeerPoints {
            node: 0,
            person: 1,
            date: 15,
            points: 100.0,
        },
        CreditPeerPoints {
            node: 0,
            person: 2,
            date: 15,
            points: 100.0,
        },
        // Given after the outcome: does not count for it.
        CreditPeerPoints {
            node: 0,
            person: 0,
            date: 30,
            points: 100.0,
        },
    ];
    d.outcomes = vec![outcome(0, 20, 100.0)];
    let policy = Policy {
        peer_factor: 0.5,
        ..Policy::default()
    };
    let e = Engine::new(d.clone(), policy).expect("engine");
    // Half by effort (3:1), half by points (P1 has all the pool's points).
    assert!(close(e.credit(0), 37.5), "{}", e.credit(0));
    assert!(close(e.credit(1), 12.5 + 50.0), "{}", e.credit(1));
    assert_eq!(e.credit(2), 0.0, "points alone earn nothing without work");
    let lines = e.explain(&|p| p == 1);
    assert_eq!((lines[0].points, lines[0].phase_points), (100.0, 100.0));
    // Off by default.
    let plain = Engine::new(d, Policy::default()).expect("engine");
    assert!(close(plain.credit(0), 75.0));
}
