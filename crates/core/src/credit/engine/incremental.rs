//! Incremental updates: one new outcome or contribution without recomputing the world.

use super::*;

impl Engine {
    fn ensure_person(&mut self, person: u32) {
        if self.person_credit.len() <= person as usize {
            self.person_credit
                .resize(person as usize + 1, Sum::default());
        }
    }

    /// Adds the person or returns their index (for incremental contributions).
    pub fn intern_person(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.person_index.get(id) {
            return i;
        }
        let i = self.people.len() as u32;
        self.people.push(id.to_string());
        self.person_index.insert(id.to_string(), i);
        self.ensure_person(i);
        i
    }

    /// Credits one new outcome without recomputing the others; returns who gained what.
    pub fn add_outcome(&mut self, outcome: CreditOutcome) -> Vec<(u32, f64)> {
        let mut scratch = self.scratch();
        let (date, value, root) = (outcome.date, outcome.value, outcome.node);
        self.total_value.add(value);
        self.outcomes.push(outcome);
        let mut stays = Vec::new();
        self.propagate(root, date, value, &mut scratch, &mut |node, amount| {
            stays.push((node, amount))
        });
        let mut gained: HashMap<u32, f64> = HashMap::new();
        for (node, amount) in stays {
            let arrival = Arrival { date, amount };
            let mut credits = Vec::new();
            let (credited, unattributed) = if self.policy.max_share_per_node < 1.0 {
                // A cap depends on the node's whole allocation: recompute the node.
                let before = self.node_allocation(node);
                self.arrivals.push(node as usize, arrival);
                let after = self.node_allocation(node);
                let (c0, u0) = self.node_totals(node);
                let (c1, u1) = self.recount_node(node);
                let mut changes: Vec<(u32, f64)> =
                    difference(&before, &after).into_iter().collect();
                changes.sort_by_key(|(p, _)| *p);
                credits = changes;
                (c1 - c0, u1 - u0)
            } else {
                let result =
                    self.allocate(node as usize, &[arrival], &mut |p, c| credits.push((p, c)));
                self.arrivals.push(node as usize, arrival);
                result
            };
            self.node_credited[node as usize].add(credited);
            self.node_unattributed[node as usize].add(unattributed);
            for (p, c) in credits {
                *gained.entry(p).or_default() += c;
            }
        }
        self.apply(gained)
    }

    /// Adds one contribution and re-shares only its node; returns who gained or lost what.
    pub fn add_contribution(&mut self, contribution: CreditContribution) -> Vec<(u32, f64)> {
        let node = contribution.node as usize;
        self.ensure_person(contribution.person);
        let before = self.node_allocation(node as u32);
        let (c0, u0) = self.node_totals(node as u32);
        if self.decay_origin[node] == Day::MAX {
            // The node's first contribution sets the date decay is measured from; an earlier
            // one added later simply gets a negative exponent.
            self.decay_origin[node] = contribution.date;
        }
        let slot = self.slot(&contribution);
        let (first, second) = self.slots_of(node);
        let mut slots = first.to_vec();
        slots.extend_from_slice(second);
        slots.push(slot);
        self.grown.insert(node as u32, slots);
        let after = self.node_allocation(node as u32);
        let (c1, u1) = self.recount_node(node as u32);
        self.node_credited[node].add(c1 - c0);
        self.node_unattributed[node].add(u1 - u0);
        self.apply(difference(&before, &after).into_iter().collect())
    }

    /// Adds many contributions at once: each node they touch is re-allocated once for all of
    /// its new ones (one at a time, a node with many contributions is copied and
    /// re-allocated once per contribution). The same result as adding them in order.
    pub fn add_contributions(&mut self, contributions: Vec<CreditContribution>) {
        let mut by_node: Vec<(u32, Vec<CreditContribution>)> = Vec::new();
        let mut position: HashMap<u32, usize> = HashMap::new();
        for c in contributions {
            let at = *position.entry(c.node).or_insert_with(|| {
                by_node.push((c.node, Vec::new()));
                by_node.len() - 1
            });
            by_node[at].1.push(c);
        }
        for (node, added) in by_node {
            let v = node as usize;
            let before = self.node_allocation(node);
            let (c0, u0) = self.node_totals(node);
            let (first, second) = self.slots_of(v);
            let mut slots = first.to_vec();
            slots.extend_from_slice(second);
            for c in &added {
                self.ensure_person(c.person);
                if self.decay_origin[v] == Day::MAX {
                    self.decay_origin[v] = c.date;
                }
                slots.push(self.slot(c));
            }
            self.grown.insert(node, slots);
            let after = self.node_allocation(node);
            let (c1, u1) = self.recount_node(node);
            self.node_credited[v].add(c1 - c0);
            self.node_unattributed[v].add(u1 - u0);
            self.apply(difference(&before, &after).into_iter().collect());
        }
    }

    /// (credited, unattributed) of a node recomputed from its arrivals.
    fn recount_node(&self, node: u32) -> (f64, f64) {
        self.allocate(
            node as usize,
            self.arrivals.of(node as usize),
            &mut |_, _| {},
        )
    }

    fn apply(&mut self, changes: HashMap<u32, f64>) -> Vec<(u32, f64)> {
        let mut out: Vec<(u32, f64)> = changes.into_iter().filter(|(_, c)| *c != 0.0).collect();
        out.sort_by_key(|(p, _)| *p);
        for (p, c) in &out {
            self.ensure_person(*p);
            self.person_credit[*p as usize].add(*c);
        }
        out
    }
}

/// after − before, per person.
fn difference(before: &[(u32, f64)], after: &[(u32, f64)]) -> HashMap<u32, f64> {
    let mut out: HashMap<u32, f64> = HashMap::new();
    for (p, c) in after {
        *out.entry(*p).or_default() += c;
    }
    for (p, c) in before {
        *out.entry(*p).or_default() -= c;
    }
    out
}
