//! Spreading realised value down the DAG: what stays at each node, per outcome date.

use super::*;

impl Engine {
    /// Propagates every outcome in one pass over the DAG in topological order: each node's
    /// inflow is a date-sorted list (its own outcomes plus what its parents passed down on
    /// each date); what it passes to each child valid on a date goes into the child's list,
    /// and what stays becomes the node's arrivals. Every node and edge is visited once, and
    /// each node's arrivals are written in date order, ready for `allocate`. Two threads take
    /// the earlier and the later half of the outcome dates.
    pub(super) fn spread_all(&mut self, outcomes: Vec<CreditOutcome>) {
        let n = self.nodes.len();
        let mut dates: Vec<Day> = outcomes.iter().map(|o| o.date).collect();
        dates.sort_unstable();
        let split = dates.get(dates.len() / 2).copied().unwrap_or(Day::MAX);
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.sort_unstable_by_key(|v| self.topo_rank[*v as usize]);
        let engine = &*self;
        let outcomes_ref = &outcomes;
        let order_ref = &order;
        let (early, late) = std::thread::scope(|scope| {
            let late =
                scope.spawn(move || engine.spread_dates(outcomes_ref, order_ref, |d| d >= split));
            let early = engine.spread_dates(outcomes_ref, order_ref, |d| d < split);
            (
                early,
                late.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            )
        });
        let mut lists = early;
        for (list, more) in lists.iter_mut().zip(late) {
            list.extend(more);
        }
        lists.resize_with(n, Vec::new);
        self.arrivals = Arrivals { lists };
        for o in outcomes {
            self.total_value.add(o.value);
            self.outcomes.push(o);
        }
    }

    /// The arrivals at every node from the outcomes whose date `wanted` selects.
    pub(super) fn spread_dates(
        &self,
        outcomes: &[CreditOutcome],
        order: &[u32],
        wanted: impl Fn(Day) -> bool,
    ) -> Vec<Vec<Arrival>> {
        let n = self.nodes.len();
        let mut incoming: Vec<Vec<Arrival>> = vec![Vec::new(); n];
        let mut own: Vec<&CreditOutcome> = outcomes.iter().filter(|o| wanted(o.date)).collect();
        own.sort_by_key(|o| o.date);
        for o in own {
            incoming[o.node as usize].push(Arrival {
                date: o.date,
                amount: o.value,
            });
        }
        let mut stays: Vec<Vec<Arrival>> = vec![Vec::new(); n];
        for &v in order {
            let mut inflow = std::mem::take(&mut incoming[v as usize]);
            if inflow.is_empty() {
                continue;
            }
            // Already in order for a node with one source (own outcomes, sorted, or one
            // parent's list); otherwise sorted here. Then one entry per date.
            if !inflow.is_sorted_by_key(|a| a.date) {
                inflow.sort_unstable_by_key(|a| a.date);
            }
            let mut merged: Vec<Arrival> = Vec::with_capacity(inflow.len());
            for a in inflow {
                match merged.last_mut() {
                    Some(last) if last.date == a.date => last.amount += a.amount,
                    _ => merged.push(a),
                }
            }
            let children =
                &self.child_edges[self.child_start[v as usize]..self.child_start[v as usize + 1]];
            let mut stay = Vec::with_capacity(merged.len());
            for a in merged {
                if a.amount == 0.0 {
                    continue;
                }
                let mut passed = Sum::default();
                for e in children {
                    if e.weight > 0.0 && e.valid_on(a.date) {
                        let share = a.amount * e.weight;
                        incoming[e.child as usize].push(Arrival {
                            date: a.date,
                            amount: share,
                        });
                        passed.add(share);
                    }
                }
                // What stays is exactly what was not passed on: conservation by construction.
                stay.push(Arrival {
                    date: a.date,
                    amount: a.amount - passed.value(),
                });
            }
            stays[v as usize] = stay;
        }
        stays
    }

    pub(super) fn scratch(&self) -> Scratch {
        Scratch {
            amount: vec![0.0; self.nodes.len()],
            mark: vec![0; self.nodes.len()],
            epoch: 0,
            reached: Vec::new(),
            stack: Vec::new(),
        }
    }

    /// Walks the value of one outcome down the DAG (edges valid on `date`), in topological
    /// order so a node reached by several paths passes on its whole inflow at once. Calls
    /// `stay(node, amount)` with what each reached node keeps.
    pub(super) fn propagate(
        &self,
        root: u32,
        date: Day,
        value: f64,
        scratch: &mut Scratch,
        stay: &mut dyn FnMut(u32, f64),
    ) {
        self.propagate_many(&[(root, value)], date, scratch, stay);
    }

    /// Propagates several outcomes of the same date in one sweep: the union of their subtrees
    /// is visited once, in topological order, with every root's value seeded.
    pub(super) fn propagate_many(
        &self,
        roots: &[(u32, f64)],
        date: Day,
        scratch: &mut Scratch,
        stay: &mut dyn FnMut(u32, f64),
    ) {
        scratch.epoch = scratch.epoch.wrapping_add(1);
        if scratch.epoch == 0 {
            scratch.mark.iter_mut().for_each(|m| *m = 0);
            scratch.epoch = 1;
        }
        scratch.reached.clear();
        scratch.stack.clear();
        for &(root, _) in roots {
            if scratch.mark[root as usize] != scratch.epoch {
                scratch.mark[root as usize] = scratch.epoch;
                scratch.stack.push(root);
            }
        }
        while let Some(v) = scratch.stack.pop() {
            scratch.reached.push(v);
            for e in
                &self.child_edges[self.child_start[v as usize]..self.child_start[v as usize + 1]]
            {
                if e.valid_on(date) && scratch.mark[e.child as usize] != scratch.epoch {
                    scratch.mark[e.child as usize] = scratch.epoch;
                    scratch.stack.push(e.child);
                }
            }
        }
        let mut order = std::mem::take(&mut scratch.reached);
        if order.len() > 1 {
            order.sort_unstable_by_key(|v| self.topo_rank[*v as usize]);
        }
        for &(root, value) in roots {
            scratch.amount[root as usize] += value;
        }
        for &v in &order {
            let inflow = std::mem::replace(&mut scratch.amount[v as usize], 0.0);
            if inflow == 0.0 {
                continue;
            }
            let mut passed = Sum::default();
            for e in
                &self.child_edges[self.child_start[v as usize]..self.child_start[v as usize + 1]]
            {
                if e.valid_on(date) && e.weight > 0.0 {
                    let share = inflow * e.weight;
                    scratch.amount[e.child as usize] += share;
                    passed.add(share);
                }
            }
            // What stays is exactly what was not passed on: conservation by construction.
            stay(v, inflow - passed.value());
        }
        scratch.reached = order;
    }
}
