//! How close each way of scoring people comes to the truth (the fairness report).
//!
//! Pure functions over plain maps; `valuetree fairness` reads the simulation's files into them.

use std::collections::{BTreeMap, BTreeSet};

/// The scores a method gives, by person id.
pub type Scores = BTreeMap<String, f64>;

/// How one method compares with the truth.
#[derive(Clone, Debug, PartialEq)]
pub struct MethodReport {
    pub method: String,
    /// People the method scores who also have a true performance.
    pub people: usize,
    /// Pearson correlation of the scores with the true performance.
    pub pearson: f64,
    pub spearman: f64,
    /// Share of the true top 10% that the method also puts in its top 10%.
    pub top_decile: f64,
    pub bottom_decile: f64,
    /// The same Spearman, within the moved-off group only.
    pub moved_off_people: usize,
    pub moved_off_spearman: f64,
    /// Mean over the moved-off group of (percentile under the method − true percentile), in
    /// percentile points: negative means the method ranks them below where they belong.
    pub moved_off_shortfall: f64,
}

/// Average ranks (1-based; ties share their mean rank).
pub fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|a, b| values[*a].total_cmp(&values[*b]));
    let mut out = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            out[order[k]] = rank;
        }
        i = j + 1;
    }
    out
}

pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    if n < 2 {
        return f64::NAN;
    }
    let (mx, my) = (
        x.iter().sum::<f64>() / n as f64,
        y.iter().sum::<f64>() / n as f64,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (dx, dy) = (x[i] - mx, y[i] - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        f64::NAN
    } else {
        sxy / (sxx * syy).sqrt()
    }
}

pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

/// Compares `scores` with `truth`; `moved_off` is the group the single-superior system wrongs.
pub fn compare(
    method: &str,
    scores: &Scores,
    truth: &Scores,
    moved_off: &BTreeSet<String>,
) -> MethodReport {
    let common: Vec<(&String, f64, f64)> = scores
        .iter()
        .filter_map(|(id, s)| truth.get(id).map(|t| (id, *s, *t)))
        .collect();
    let method_values: Vec<f64> = common.iter().map(|c| c.1).collect();
    let true_values: Vec<f64> = common.iter().map(|c| c.2).collect();
    let n = common.len();
    let (method_ranks, true_ranks) = (ranks(&method_values), ranks(&true_values));
    let decile = |ranks: &[f64], top: bool| -> BTreeSet<usize> {
        let k = (n / 10).max(1);
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|a, b| ranks[*a].total_cmp(&ranks[*b]));
        if top {
            order.into_iter().rev().take(k).collect()
        } else {
            order.into_iter().take(k).collect()
        }
    };
    let overlap = |top: bool| {
        let (a, b) = (decile(&method_ranks, top), decile(&true_ranks, top));
        a.intersection(&b).count() as f64 / b.len().max(1) as f64
    };
    let group: Vec<usize> = (0..n)
        .filter(|i| moved_off.contains(common[*i].0))
        .collect();
    let pick = |values: &[f64]| group.iter().map(|i| values[*i]).collect::<Vec<f64>>();
    let percentile = |rank: f64| 100.0 * (rank - 0.5) / n.max(1) as f64;
    let shortfall = if group.is_empty() {
        f64::NAN
    } else {
        group
            .iter()
            .map(|i| percentile(method_ranks[*i]) - percentile(true_ranks[*i]))
            .sum::<f64>()
            / group.len() as f64
    };
    MethodReport {
        method: method.to_string(),
        people: n,
        pearson: pearson(&method_values, &true_values),
        spearman: spearman(&method_values, &true_values),
        top_decile: overlap(true),
        bottom_decile: overlap(false),
        moved_off_people: group.len(),
        moved_off_spearman: spearman(&pick(&method_values), &pick(&true_values)),
        moved_off_shortfall: shortfall,
    }
}

/// A bar chart (SVG) of the Spearman correlations, overall and for the moved-off group.
pub fn svg_chart(reports: &[MethodReport]) -> String {
    let (width, row, left) = (720.0, 56.0, 250.0);
    let height = 70.0 + row * reports.len() as f64;
    let scale = |v: f64| (v.clamp(0.0, 1.0)) * (width - left - 40.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"13\">\n\
         <title>Spearman correlation with the true performance</title>\n\
         <text x=\"10\" y=\"20\" font-weight=\"bold\">Spearman correlation with the true performance</text>\n\
         <rect x=\"{left}\" y=\"30\" width=\"12\" height=\"12\" fill=\"#2b6cb0\"/><text x=\"{}\" y=\"41\">everyone</text>\n\
         <rect x=\"{}\" y=\"30\" width=\"12\" height=\"12\" fill=\"#dd6b20\"/><text x=\"{}\" y=\"41\">moved off before the outcome</text>\n",
        left + 16.0,
        left + 100.0,
        left + 116.0
    );
    for (i, r) in reports.iter().enumerate() {
        let y = 55.0 + row * i as f64;
        let label = r.method.replace('&', "&amp;").replace('<', "&lt;");
        svg.push_str(&format!(
            "<text x=\"10\" y=\"{}\">{label}</text>\n",
            y + 20.0
        ));
        for (k, (value, color)) in [(r.spearman, "#2b6cb0"), (r.moved_off_spearman, "#dd6b20")]
            .iter()
            .enumerate()
        {
            let bar_y = y + 4.0 + 20.0 * k as f64;
            let v = if value.is_nan() { 0.0 } else { *value };
            svg.push_str(&format!(
                "<rect x=\"{left}\" y=\"{bar_y}\" width=\"{:.1}\" height=\"16\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{}\">{v:.3}</text>\n",
                scale(v),
                left + scale(v) + 4.0,
                bar_y + 13.0
            ));
        }
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_share_ties_and_spearman_is_monotone_invariant() {
        assert_eq!(ranks(&[10.0, 20.0, 20.0, 5.0]), vec![2.0, 3.5, 3.5, 1.0]);
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y: Vec<f64> = x.iter().map(|v: &f64| v.powi(3)).collect();
        assert!((spearman(&x, &y) - 1.0).abs() < 1e-12);
        let reversed: Vec<f64> = x.iter().rev().copied().collect();
        assert!((spearman(&x, &reversed) + 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_method_that_underrates_the_moved_off_shows_a_shortfall() {
        let truth: Scores = (0..100).map(|i| (format!("P{i}"), f64::from(i))).collect();
        let moved: BTreeSet<String> = (0..100).step_by(5).map(|i| format!("P{i}")).collect();
        let mut scores = truth.clone();
        for id in &moved {
            if let Some(s) = scores.get_mut(id) {
                *s -= 30.0;
            }
        }
        let fair = compare("truth", &truth, &truth, &moved);
        assert!((fair.spearman - 1.0).abs() < 1e-12 && fair.moved_off_shortfall.abs() < 1e-9);
        assert!((fair.top_decile - 1.0).abs() < 1e-12);
        let unfair = compare("unfair", &scores, &truth, &moved);
        assert!(unfair.moved_off_shortfall < -10.0, "{unfair:?}");
        assert!(unfair.spearman < 1.0);
        assert!(svg_chart(&[fair, unfair]).contains("<rect"));
    }
}
