//! Review cycles: who rates whom, with what bias, and the truth kept beside.

use super::*;

impl Sim<'_> {
    pub(super) fn leniency(&self, rater: usize) -> f64 {
        let dept = match self.people[rater].team {
            Some(t) => self.teams[t].dept,
            None => self.people[rater].dept,
        };
        self.dept_culture[dept] + self.config.rater_bias * self.people[rater].lenience
    }

    /// A `results` rating of `ratee`: [`Self::score`], with the rater's leniency kept for the
    /// average leniency, and the work the rater saw (`signal`) and their noise kept for the
    /// ratee's expected rating (see [`expected_rating`]).
    fn results_score(&mut self, ratee: usize, signal: f64, rater: usize, noise: f64) -> u8 {
        let leniency = self.leniency(rater);
        let (sum, sum_sq, count) = &mut self.results_raters;
        *sum += leniency;
        *sum_sq += noise * noise;
        *count += 1.0;
        // f32 halves the memory of 4.6 million occasions; far finer than a rating's expectation needs.
        self.results_seen
            .entry(ratee)
            .or_default()
            .push((signal as f32, noise as f32));
        self.score(signal, Some(rater), noise)
    }

    pub(super) fn score(&mut self, signal: f64, rater: Option<usize>, noise: f64) -> u8 {
        let lenient = rater.map_or(0.0, |r| self.leniency(r));
        (3.0 + 0.9 * signal + lenient + noise * self.rng.normal())
            .round()
            .clamp(1.0, 5.0) as u8
    }

    pub(super) fn rate_cycle(&mut self, m: u32) -> std::io::Result<()> {
        let date = self.month_end(m);
        let cycle_start = self.month_start(m - 5);
        let cycle_id = format!("{}H{}", date.year(), if date.month() <= 6 { 1 } else { 2 });
        let cycle = std::mem::take(&mut self.cycle);
        self.sink.cycle(&cycle_id, cycle_start, date)?;
        // Who is rated: employed at the end, and at least three months in the cycle.
        let rated: Vec<usize> = (1..self.people.len())
            .filter(|p| self.people[*p].active)
            .filter(|p| {
                let joined = self.people[*p].record.joined_on;
                joined
                    <= cycle_start
                        .checked_add_months(Months::new(3))
                        .unwrap_or(cycle_start)
            })
            .collect();
        let per_month = |p: usize| {
            let joined = self.people[p].record.joined_on.max(cycle_start);
            let months = f64::from(
                (date.year() - joined.year()) * 12 + date.month() as i32 - joined.month() as i32
                    + 1,
            );
            cycle.value.get(&p).copied().unwrap_or(0.0) / months.max(1.0)
        };
        let perf: Vec<f64> = rated.iter().map(|p| per_month(*p)).collect();
        let recent: Vec<f64> = rated
            .iter()
            .map(|p| cycle.recent_own.get(p).copied().unwrap_or(0.0))
            .collect();
        let z = standardize(&perf);
        let z_recent = standardize(&recent);
        let z_of: HashMap<usize, f64> = rated.iter().copied().zip(z.iter().copied()).collect();
        for (i, &p) in rated.iter().enumerate() {
            let entry = self.truth_sum.entry(p).or_insert((0.0, 0));
            entry.0 += z[i];
            entry.1 += 1;
        }
        let mut rows: Vec<(usize, usize, &'static str, &'static str, u8)> = Vec::new();
        for (i, &p) in rated.iter().enumerate() {
            let manager = self.manager_of(p);
            let mut raters = 0;
            // One rater gives one rating per ratee and dimension (the ledger's rating key).
            let mut used: Vec<usize> = manager.into_iter().collect();
            if let Some(mgr) = manager {
                // The current manager sees the recent months, and the work in their own unit.
                let score = self.results_score(p, z_recent[i], mgr, 0.45);
                rows.push((mgr, p, "manager", "results", score));
                let values = self.score(0.8 * self.people[p].values, Some(mgr), 0.5);
                rows.push((mgr, p, "manager", "values", values));
                raters += 1;
            }
            let mut inits = cycle.inits.get(&p).cloned().unwrap_or_default();
            inits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            if let Some(&(main, _)) = inits.first() {
                let lead = self.initiatives[main].lead;
                if raters < self.config.raters_per_person
                    && lead != p
                    && Some(lead) != manager
                    && self.people[lead].active
                {
                    let score = self.results_score(p, z[i], lead, 0.5);
                    rows.push((lead, p, "lead", "results", score));
                    used.push(lead);
                    raters += 1;
                }
                let customer = self.nodes[self.initiatives[main].objective].lead_id.clone();
                let customer = customer
                    .and_then(|id| id[1..].parse::<usize>().ok())
                    .map(|n| n - 1);
                if let Some(c) = customer
                    && raters < self.config.raters_per_person
                    && c != p
                    && !used.contains(&c)
                    && self.people[c].active
                    && self.rng.chance(0.5)
                {
                    let score = self.results_score(p, z[i], c, 0.8);
                    rows.push((c, p, "customer", "results", score));
                    used.push(c);
                    raters += 1;
                }
            }
            let mut peers: Vec<usize> = inits
                .iter()
                .flat_map(|(init, _)| cycle.contributors.get(init).cloned().unwrap_or_default())
                .filter(|q| *q != p && !used.contains(q) && self.people[*q].active)
                .collect();
            peers.sort_unstable();
            peers.dedup();
            while raters < self.config.raters_per_person && !peers.is_empty() {
                let q = peers.swap_remove(self.rng.below(peers.len()));
                let score = self.results_score(p, z[i], q, 0.6);
                rows.push((q, p, "peer", "results", score));
                used.push(q);
                raters += 1;
            }
            let self_score = (3.4 + 0.5 * z[i] + 0.6 * self.rng.normal())
                .round()
                .clamp(1.0, 5.0) as u8;
            rows.push((p, p, "self", "results", self_score));
            // Upward feedback: two reports rate their manager.
            let mut reports: Vec<usize> = match self.people[p].team {
                Some(t) if self.teams[t].manager == Some(p) => self.teams[t]
                    .members
                    .iter()
                    .copied()
                    .filter(|q| *q != p && !used.contains(q))
                    .collect(),
                _ => Vec::new(),
            };
            for _ in 0..2.min(reports.len()) {
                let q = reports.swap_remove(self.rng.below(reports.len()));
                let signal = z_of.get(&p).copied().unwrap_or(0.0);
                let score = self.results_score(p, signal, q, 0.7);
                rows.push((q, p, "report", "results", score));
            }
        }
        for (rater, ratee, relationship, dimension, score) in rows {
            let (rater_unit, ratee_unit) = (self.bu_unit_of(rater), self.bu_unit_of(ratee));
            self.sink.rating(&RatingRow {
                cycle_id: &cycle_id,
                rater_id: &self.people[rater].record.person_id,
                ratee_id: &self.people[ratee].record.person_id,
                relationship,
                dimension,
                score,
                ratee_unit: &ratee_unit,
                rater_unit: &rater_unit,
            })?;
            self.counters.ratings += 1;
        }
        for ((person, node), value) in &cycle.truth {
            self.sink.truth_contribution(
                &self.people[*person].record.person_id,
                &self.nodes[*node].node_id,
                &cycle_id,
                *value,
            )?;
        }
        Ok(())
    }
}

/// The standard normal distribution function (Abramowitz and Stegun 7.1.26 for erf: within
/// 1.5e-7, far below what a rating's expectation needs).
fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// The rating a rater of the given leniency and noise would give, on average, for work of
/// standardised value `truth`: the expectation of the simulator's own rating rule,
/// `round(clamp(3 + 0.9·truth + leniency + noise·ε, 1, 5))`, with ε standard normal. A
/// person's expected rating is its mean over the occasions they were rated, at the average
/// leniency: the estimand a calibrated score estimates (what an average rater would have
/// given for the work raters saw), on the scale; the coverage of its interval is measured
/// against it (`valuetree fairness`).
pub(crate) fn expected_rating(truth: f64, leniency: f64, noise: f64) -> f64 {
    let centre = 3.0 + 0.9 * truth + leniency;
    let below = |edge: f64| normal_cdf((edge - centre) / noise.max(1e-9));
    // E[score] = 1 + Σ over the four steps k + 0.5 (k = 1..4) of P(value above the step).
    1.0 + [1.5, 2.5, 3.5, 4.5]
        .iter()
        .map(|&edge| 1.0 - below(edge))
        .sum::<f64>()
}

#[cfg(test)]
mod expected_rating_tests {
    use super::*;

    #[test]
    fn the_expected_rating_is_the_mean_of_the_rating_rule() {
        // Against a direct average of the rule over many draws.
        let mut seed = 5u64;
        let mut normal = || {
            let mut unit = || {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((seed >> 11) as f64 + 0.5) / (1u64 << 53) as f64
            };
            let (u, v) = (unit(), unit());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        };
        for (truth, leniency, noise) in [(0.0, 0.0, 0.6), (2.5, 0.3, 0.5), (-3.0, -0.2, 0.8)] {
            let draws = 200_000;
            let mean = (0..draws)
                .map(|_| {
                    (3.0 + 0.9 * truth + leniency + noise * normal())
                        .round()
                        .clamp(1.0, 5.0)
                })
                .sum::<f64>()
                / f64::from(draws);
            let expected = expected_rating(truth, leniency, noise);
            assert!(
                (expected - mean).abs() < 0.01,
                "{truth}: {expected} vs {mean}"
            );
        }
        // The scale's ends compress: far above, the expectation stays under 5.
        assert!(expected_rating(10.0, 0.0, 0.6) <= 5.0);
        assert!((expected_rating(0.0, 0.0, 0.6) - 3.0).abs() < 1e-6);
    }
}
