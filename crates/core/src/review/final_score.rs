//! The final score: an explained blend of the calibrated rating, credit from the value tree
//! and the values score; and the results × values 9-box.
//!
//! Every component is put on the rating scale first: the calibrated rating already is; credit
//! by its percentile among the people scored (1 + percentile × (max − 1)), because credit is
//! money-like and heavy-tailed; the values score as the share of behaviours met. A missing
//! component (no ratings, no credit run, no values assessment) drops out and the weights of the
//! others are renormalised, and the explanation says so.
//!
//! The values score is evidence for a conversation, never a sole ground for a decision.

use super::share_to_scale;
use crate::domain::PersonId;
use serde::Deserialize;

/// The blend's weights and the 9-box cut points (a TOML file may set any of them).
#[derive(Clone, Debug, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FinalPolicy {
    pub rating_weight: f64,
    pub credit_weight: f64,
    pub values_weight: f64,
    /// Cut points of the results axis (on the rating scale); default: the population's
    /// tertiles.
    pub results_cuts: Option<[f64; 2]>,
    /// Cut points of the values axis (on the rating scale); default: tertiles.
    pub values_cuts: Option<[f64; 2]>,
}

impl Default for FinalPolicy {
    fn default() -> Self {
        FinalPolicy {
            rating_weight: 0.5,
            credit_weight: 0.3,
            values_weight: 0.2,
            results_cuts: None,
            values_cuts: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FinalInput {
    pub person_id: PersonId,
    /// Calibrated (or overridden) rating, on the scale.
    pub rating: Option<f64>,
    /// Credit in the cycle's period (0 for someone whose work realised nothing yet).
    pub credit: Option<f64>,
    /// Share of the cycle's behaviours met, 0–1.
    pub values_share: Option<f64>,
    /// The calibrated rating of the `values` dimension, used when no behaviours were assessed.
    pub values_rating: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FinalScore {
    pub person_id: PersonId,
    pub score: f64,
    /// The results axis of the 9-box: rating and credit blended (on the scale).
    pub results: Option<f64>,
    /// The values axis (on the scale).
    pub values: Option<f64>,
    pub credit_percentile: Option<f64>,
    /// Row and column of the 9-box, 0 = low … 2 = high, when both axes are known.
    pub nine_box: Option<(usize, usize)>,
    /// The blend as data: each part present, with its renormalised weight and its value on
    /// the scale.
    pub terms: Vec<FinalTerm>,
    /// The parts with a weight but no value (their weight went to the others).
    pub missing: Vec<&'static str>,
    /// The same in words, for a table.
    pub explanation: String,
}

/// A weight as printed: two decimals when they are exact, else three, so that renormalised
/// weights read as adding up (0.625 + 0.375, not 0.62 + 0.37).
pub fn weight_text(weight: f64) -> String {
    if ((weight * 100.0).round() - weight * 100.0).abs() < 1e-9 {
        format!("{weight:.2}")
    } else {
        format!("{weight:.3}")
    }
}

/// One part of a final score: `weight × value`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FinalTerm {
    /// `rating`, `credit` or `values`.
    pub part: &'static str,
    pub weight: f64,
    pub value: f64,
}

pub const TIERS: [&str; 3] = ["low", "medium", "high"];

/// Mid-rank percentiles in [0, 1] of `values` (ties share their mean rank).
fn percentiles(values: &[f64]) -> Vec<f64> {
    let n = values.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out = vec![0.0; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0;
        for &k in &order[i..=j] {
            out[k] = if n > 1 { mid / (n - 1) as f64 } else { 0.5 };
        }
        i = j + 1;
    }
    out
}

/// The two tertile cut points of `values`.
pub fn tertiles(values: &[f64]) -> [f64; 2] {
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = |q: f64| {
        if sorted.is_empty() {
            return 0.0;
        }
        let pos = q * (sorted.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
    };
    [at(1.0 / 3.0), at(2.0 / 3.0)]
}

fn tier(value: f64, cuts: [f64; 2]) -> usize {
    if value > cuts[1] {
        2
    } else if value > cuts[0] {
        1
    } else {
        0
    }
}

pub fn final_scores(
    inputs: &[FinalInput],
    scale_max: f64,
    policy: &FinalPolicy,
) -> Vec<FinalScore> {
    let credited: Vec<(usize, f64)> = inputs
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.credit.map(|c| (i, c)))
        .collect();
    let mut credit_pct = vec![None; inputs.len()];
    let pct = percentiles(&credited.iter().map(|(_, c)| *c).collect::<Vec<_>>());
    for ((i, _), p) in credited.iter().zip(pct) {
        credit_pct[*i] = Some(p);
    }
    let mut scores: Vec<FinalScore> = inputs
        .iter()
        .zip(&credit_pct)
        .map(|(input, pct)| {
            let credit_scaled = pct.map(|p| share_to_scale(p, scale_max));
            let values = input
                .values_share
                .map(|s| share_to_scale(s, scale_max))
                .or(input.values_rating);
            let parts = [
                ("rating", policy.rating_weight, input.rating, String::new()),
                (
                    "credit",
                    policy.credit_weight,
                    credit_scaled,
                    pct.map_or(String::new(), |p| {
                        format!(" (credit percentile {:.0})", p * 100.0)
                    }),
                ),
                (
                    "values",
                    policy.values_weight,
                    values,
                    match (input.values_share, input.values_rating) {
                        (Some(s), _) => format!(" ({:.0}% of behaviours met)", s * 100.0),
                        (None, Some(_)) => " (calibrated values rating)".to_string(),
                        (None, None) => String::new(),
                    },
                ),
            ];
            let weight: f64 = parts
                .iter()
                .filter(|p| p.2.is_some() && p.1 > 0.0)
                .map(|p| p.1)
                .sum();
            let mut terms = Vec::new();
            let mut data = Vec::new();
            let mut missing = Vec::new();
            let mut total = 0.0;
            for (name, w, value, note) in &parts {
                match value {
                    Some(v) if *w > 0.0 => {
                        let share = w / weight;
                        total += share * v;
                        terms.push(format!("{} × {name} {v:.2}{note}", weight_text(share)));
                        data.push(FinalTerm {
                            part: name,
                            weight: share,
                            value: *v,
                        });
                    }
                    None if *w > 0.0 => missing.push(*name),
                    _ => {}
                }
            }
            let score = if weight > 0.0 { total } else { f64::NAN };
            let mut explanation = format!("{} = {score:.2}", terms.join(" + "));
            if !missing.is_empty() {
                explanation.push_str(&format!(
                    "; no {} (weights renormalised)",
                    missing.join(", no ")
                ));
            }
            let rc_weight = policy.rating_weight * f64::from(u8::from(input.rating.is_some()))
                + policy.credit_weight * f64::from(u8::from(credit_scaled.is_some()));
            let results = (rc_weight > 0.0).then(|| {
                (policy.rating_weight * input.rating.unwrap_or(0.0)
                    + policy.credit_weight * credit_scaled.unwrap_or(0.0))
                    / rc_weight
            });
            FinalScore {
                person_id: input.person_id.clone(),
                score,
                results,
                values,
                credit_percentile: *pct,
                nine_box: None,
                terms: data,
                missing,
                explanation,
            }
        })
        .collect();
    let results: Vec<f64> = scores.iter().filter_map(|s| s.results).collect();
    let values: Vec<f64> = scores.iter().filter_map(|s| s.values).collect();
    let results_cuts = policy.results_cuts.unwrap_or_else(|| tertiles(&results));
    let values_cuts = policy.values_cuts.unwrap_or_else(|| tertiles(&values));
    for s in &mut scores {
        if let (Some(r), Some(v)) = (s.results, s.values) {
            s.nine_box = Some((tier(r, results_cuts), tier(v, values_cuts)));
        }
    }
    scores
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(id: &str, rating: f64, credit: f64, values: Option<f64>) -> FinalInput {
        FinalInput {
            person_id: id.into(),
            rating: Some(rating),
            credit: Some(credit),
            values_share: values,
            values_rating: None,
        }
    }

    #[test]
    fn blend_is_explained_and_missing_parts_renormalise() {
        let people = [
            input("A", 4.0, 100.0, Some(1.0)),
            input("B", 3.0, 0.0, Some(0.5)),
            input("C", 2.0, 50.0, None),
        ];
        let scores = final_scores(&people, 5.0, &FinalPolicy::default());
        // A: rating 4, credit top (percentile 1 → 5), values all met (→ 5).
        let a = &scores[0];
        assert!((a.score - (0.5 * 4.0 + 0.3 * 5.0 + 0.2 * 5.0)).abs() < 1e-12);
        assert!(
            a.explanation.contains("0.50 × rating 4.00"),
            "{}",
            a.explanation
        );
        assert!(a.explanation.contains("credit percentile 100"));
        // C has no values score: rating and credit are renormalised to 0.625 / 0.375.
        let c = &scores[2];
        assert!((c.score - (0.625 * 2.0 + 0.375 * 3.0)).abs() < 1e-12);
        assert!(c.explanation.contains("no values"));
        assert_eq!(c.missing, ["values"]);
        let weights: Vec<(&str, f64)> = c.terms.iter().map(|t| (t.part, t.weight)).collect();
        assert!(
            weights.len() == 2
                && weights[0].0 == "rating"
                && (weights[0].1 - 0.625).abs() < 1e-12
                && weights[1].0 == "credit"
                && (weights[1].1 - 0.375).abs() < 1e-12,
            "{weights:?}"
        );
        assert_eq!(c.nine_box, None, "no values axis, no box");
        assert!(a.nine_box.is_some());
    }

    #[test]
    fn nine_box_uses_tertiles_unless_cut_points_are_set() {
        let people: Vec<FinalInput> = (0..9)
            .map(|i| {
                input(
                    &format!("P{i}"),
                    1.0 + i as f64 * 0.5,
                    i as f64,
                    Some(i as f64 / 8.0),
                )
            })
            .collect();
        let scores = final_scores(&people, 5.0, &FinalPolicy::default());
        let boxes: Vec<(usize, usize)> = scores.iter().filter_map(|s| s.nine_box).collect();
        assert_eq!(boxes[0], (0, 0));
        assert_eq!(boxes[4], (1, 1));
        assert_eq!(boxes[8], (2, 2));
        let policy = FinalPolicy {
            results_cuts: Some([4.9, 4.95]),
            values_cuts: Some([0.0, 0.5]),
            ..FinalPolicy::default()
        };
        let scores = final_scores(&people, 5.0, &policy);
        assert!(scores.iter().all(|s| {
            s.nine_box
                .is_some_and(|b| b.0 == 0 || s.results > Some(4.9))
        }));
    }

    #[test]
    fn percentiles_share_ties() {
        assert_eq!(percentiles(&[1.0, 1.0, 3.0]), vec![0.25, 0.25, 1.0]);
    }

    #[test]
    fn renormalised_weights_are_printed_so_that_they_add_up() {
        assert_eq!(super::weight_text(0.5), "0.50");
        assert_eq!(super::weight_text(0.625), "0.625");
        assert_eq!(super::weight_text(0.375), "0.375");
    }
}
