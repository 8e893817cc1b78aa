//! Sharing what stayed at a node among its contributions (phase pools, effort, peer points,
//! the optional cap).

use super::*;

/// Buffers `allocate` reuses from node to node.
#[derive(Default)]
pub(super) struct AllocScratch {
    dates: Vec<Day>,
    buckets: Vec<u32>,
    bucket: Vec<[f64; 5]>,
}

impl Engine {
    /// Shares the arrivals at every node, on two threads (nodes split by contribution count),
    /// merging in a fixed order.
    pub(super) fn allocate_all(&mut self) {
        let n = self.nodes.len();
        // Split the nodes where half the contributions are (by the first pool's layout).
        let first = &self.slot_pools[0].start;
        let total = first.last().copied().unwrap_or(0);
        let mid = first.partition_point(|s| *s < total / 2).min(n);
        let people = self.people.len();
        let engine = &*self;
        let parts: Vec<NodeShares> = std::thread::scope(|scope| {
            let work = |range: std::ops::Range<usize>| {
                let mut sums = vec![Sum::default(); people];
                let mut totals = Vec::with_capacity(range.len());
                let mut scratch = AllocScratch::default();
                for node in range {
                    let (credited, unattributed) = engine.allocate_with(
                        node,
                        engine.arrivals.of(node),
                        &mut scratch,
                        &mut |p, c| sums[p as usize].add(c),
                    );
                    totals.push((node, credited, unattributed));
                }
                (sums, totals)
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
        for (sums, totals) in parts {
            for (p, sum) in sums.iter().enumerate() {
                self.person_credit[p].add(sum.value());
            }
            for (node, credited, unattributed) in totals {
                self.node_credited[node].add(credited);
                self.node_unattributed[node].add(unattributed);
            }
        }
    }

    /// Shares the arrivals at `node` among its contributions; calls `credit(person, amount)`
    /// and returns (credited, unattributed).
    pub(super) fn allocate(
        &self,
        node: usize,
        arrivals: &[Arrival],
        credit: &mut dyn FnMut(u32, f64),
    ) -> (f64, f64) {
        self.allocate_with(node, arrivals, &mut AllocScratch::default(), credit)
    }

    /// [`Engine::allocate`] with buffers reused from node to node.
    pub(super) fn allocate_with(
        &self,
        node: usize,
        arrivals: &[Arrival],
        scratch: &mut AllocScratch,
        credit: &mut dyn FnMut(u32, f64),
    ) -> (f64, f64) {
        self.allocate_counting(node, arrivals, scratch, |_| true, credit)
    }

    /// [`Engine::allocate_with`] counting only the slots `counts` keeps (the others weigh
    /// zero, as if never recorded): the team view's reference path.
    pub(super) fn allocate_counting(
        &self,
        node: usize,
        arrivals: &[Arrival],
        scratch: &mut AllocScratch,
        counts: impl Fn(&Slot) -> bool,
        credit: &mut dyn FnMut(u32, f64),
    ) -> (f64, f64) {
        if arrivals.is_empty() {
            return (0.0, 0.0);
        }
        let AllocScratch {
            dates,
            buckets,
            bucket,
        } = scratch;
        let (first, second) = self.slots_of(node);
        let slots = || first.iter().chain(second).filter(|s| counts(s));
        let sorted: std::borrow::Cow<[Arrival]> = if arrivals.is_sorted_by_key(|a| a.date) {
            std::borrow::Cow::Borrowed(arrivals)
        } else {
            let mut owned = arrivals.to_vec();
            owned.sort_by_key(|a| a.date);
            std::borrow::Cow::Owned(owned)
        };
        let m = sorted.len();
        // A slot counts for the arrivals from the first one dated on or after it: bucket the
        // slots by that index (no sort of the slots needed).
        dates.clear();
        dates.extend(sorted.iter().map(|a| a.date));
        let bucket_of = |slot: &Slot| dates.partition_point(|d| *d < slot.date);
        buckets.clear();
        buckets.extend(slots().map(|s| bucket_of(s) as u32));
        bucket.clear();
        bucket.resize(m + 1, [0.0; 5]);
        for (slot, b) in slots().zip(buckets.iter()) {
            bucket[*b as usize][slot.phase()] += slot.weight();
        }
        let capped = self.policy.max_share_per_node < 1.0;
        let mut per_person: BTreeMap<u32, f64> = BTreeMap::new();
        let mut peer = PeerPools::new(self, node);
        let mut joining = peer.joining_order(slots().zip(buckets.iter().copied()));
        let mut totals = [0.0f64; 5];
        let (mut credited, mut unattributed) = (Sum::default(), Sum::default());
        // coefficient[j][p]: what one unit of weight in phase p earns from arrival j.
        for (j, arrival) in sorted.iter().enumerate() {
            for p in 0..5 {
                totals[p] += bucket[j][p];
            }
            peer.join_until(&mut joining, j);
            peer.advance(arrival.date);
            let norm: f64 = (0..5)
                .filter(|p| totals[*p] > 0.0)
                .map(|p| self.phase_weight[p])
                .sum();
            let mut coefficient = [0.0f64; 5];
            if norm <= 0.0 || arrival.amount == 0.0 {
                unattributed.add(arrival.amount);
            } else {
                credited.add(arrival.amount);
                for p in 0..5 {
                    if totals[p] > 0.0 {
                        let pool = arrival.amount * self.phase_weight[p] / norm;
                        let by_effort = peer.share(p, pool, &mut |person, amount| {
                            if capped {
                                *per_person.entry(person).or_default() += amount;
                            } else {
                                credit(person, amount);
                            }
                        });
                        coefficient[p] = by_effort / totals[p];
                    }
                }
            }
            bucket[j] = coefficient;
        }
        // Suffix sums: a slot in bucket i earns the coefficients of arrivals i..m.
        bucket[m] = [0.0; 5];
        for j in (0..m).rev() {
            let later = bucket[j + 1];
            for (here, after) in bucket[j].iter_mut().zip(later) {
                *here += after;
            }
        }
        for (slot, b) in slots().zip(buckets.iter()) {
            let amount = slot.weight() * bucket[*b as usize][slot.phase()];
            if amount > 0.0 {
                if capped {
                    *per_person.entry(slot.person()).or_default() += amount;
                } else {
                    credit(slot.person(), amount);
                }
            }
        }
        if capped {
            let lost = apply_cap(
                &mut per_person,
                self.policy.max_share_per_node,
                credited.value(),
            );
            for (p, amount) in per_person {
                credit(p, amount);
            }
            // With too few people to take a capped excess, it stays unattributed.
            return (credited.value() - lost, unattributed.value() + lost);
        }
        (credited.value(), unattributed.value())
    }
}

/// Caps each person's share of `total` at `max_share`, handing the excess to the others in
/// proportion (water-filling). Returns what no one could take.
fn apply_cap(per_person: &mut BTreeMap<u32, f64>, max_share: f64, total: f64) -> f64 {
    let limit = max_share * total;
    for _ in 0..=per_person.len() {
        let mut excess = 0.0;
        for v in per_person.values_mut() {
            if *v > limit {
                excess += *v - limit;
                *v = limit;
            }
        }
        if excess <= total * 1e-15 {
            return 0.0;
        }
        let open_total: f64 = per_person.values().filter(|v| **v < limit).sum();
        if open_total <= 0.0 {
            return excess;
        }
        for v in per_person.values_mut() {
            if *v < limit {
                *v += excess * *v / open_total;
            }
        }
    }
    0.0
}
