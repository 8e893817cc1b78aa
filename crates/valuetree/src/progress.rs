//! Progress bars for long work, shown only when standard error is a terminal.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

pub fn bar(total: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let style =
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} ({rate}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            // Whole rows per second, grouped: indicatif's `per_sec` prints four decimals.
            .with_key(
                "rate",
                |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{}/s", grouped(state.per_sec()));
                },
            )
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_string());
    bar
}

/// A rate as a whole number with thousands separators: 122179.6 → "122,180".
fn grouped(rate: f64) -> String {
    let whole = if rate.is_finite() && rate > 0.0 {
        rate.round() as u64
    } else {
        0
    };
    let digits = whole.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_rate_is_whole_and_grouped() {
        assert_eq!(super::grouped(122_179.616_5), "122,180");
        assert_eq!(super::grouped(999.4), "999");
        assert_eq!(super::grouped(1_000.0), "1,000");
        assert_eq!(super::grouped(f64::NAN), "0");
    }
}
