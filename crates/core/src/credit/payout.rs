//! Payouts: turning credit into a reward budget.
//!
//! - **Immediate**: the budget is shared by this period's credit.
//! - **Balanced** (SourceCred's BALANCED): each person is moved toward their share of the
//!   budget *of all time* (lifetime credit share × everything paid so far plus this budget),
//!   net of what they were already paid. Early work that bears fruit late is paid late, not
//!   never.

use super::engine::Sum;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayoutPolicy {
    Immediate,
    Balanced,
}

/// One person's figures for a payout.
#[derive(Clone, Debug, PartialEq)]
pub struct PayoutInput {
    pub person: String,
    /// Credit from outcomes in the period being paid.
    pub period_credit: f64,
    /// Credit from all outcomes up to the end of the period.
    pub lifetime_credit: f64,
    /// What the person was paid before.
    pub paid: f64,
}

/// Shares `budget` among `people`; the amounts sum to the budget (or to 0 when no one has
/// credit to pay for).
pub fn payout(people: &[PayoutInput], budget: f64, policy: PayoutPolicy) -> Vec<(String, f64)> {
    let claims: Vec<f64> = match policy {
        PayoutPolicy::Immediate => people.iter().map(|p| p.period_credit.max(0.0)).collect(),
        PayoutPolicy::Balanced => {
            let mut lifetime = Sum::default();
            let mut paid = Sum::default();
            for p in people {
                lifetime.add(p.lifetime_credit.max(0.0));
                paid.add(p.paid.max(0.0));
            }
            let pot = paid.value() + budget;
            people
                .iter()
                .map(|p| {
                    if lifetime.value() <= 0.0 {
                        return 0.0;
                    }
                    let target = pot * p.lifetime_credit.max(0.0) / lifetime.value();
                    (target - p.paid.max(0.0)).max(0.0)
                })
                .collect()
        }
    };
    let mut total = Sum::default();
    claims.iter().for_each(|c| total.add(*c));
    people
        .iter()
        .zip(claims)
        .map(|(p, claim)| {
            let amount = if total.value() > 0.0 {
                budget * claim / total.value()
            } else {
                0.0
            };
            (p.person.clone(), amount)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(name: &str, period: f64, lifetime: f64, paid: f64) -> PayoutInput {
        PayoutInput {
            person: name.into(),
            period_credit: period,
            lifetime_credit: lifetime,
            paid,
        }
    }

    #[test]
    fn balanced_pays_late_fruit_to_the_early_worker() {
        // Ana did early work that bore fruit only now; Bo was paid for the last periods.
        let people = [
            person("ana", 0.0, 500.0, 0.0),
            person("bo", 500.0, 500.0, 500.0),
        ];
        let immediate = payout(&people, 100.0, PayoutPolicy::Immediate);
        assert_eq!(immediate, vec![("ana".into(), 0.0), ("bo".into(), 100.0)]);
        let balanced = payout(&people, 100.0, PayoutPolicy::Balanced);
        assert_eq!(balanced, vec![("ana".into(), 100.0), ("bo".into(), 0.0)]);
        let total: f64 = balanced.iter().map(|(_, a)| a).sum();
        assert!((total - 100.0).abs() < 1e-9);
    }
}
