#!/usr/bin/env bash
# Side by side with R's lme4 on the same ratings file, in one run:
#   bench/lme4/run.sh [people]        (2700 people ≈ 50,000 results ratings; 54000 ≈ 1,000,000)
# Installs r-base-core and r-cran-lme4 from Debian if missing. Compares the plain model
# score ~ 1 + (1|ratee) + (1|rater): agreement of the ratee estimates (Pearson) and time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
people="${1:-2700}"
if ! command -v Rscript >/dev/null 2>&1 || ! Rscript -e 'library(lme4)' >/dev/null 2>&1; then
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y r-base-core r-cran-lme4 libopenblas0-pthread
fi
(cd "$root" && cargo build --release --quiet -p valuetree)
valuetree="$root/target/release/valuetree"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$valuetree" sim --people "$people" --years 3 --seed 1 --out "$work/sim" >/dev/null
# The same rows for both: results ratings, self-ratings apart.
awk -F, 'NR == 1 || ($5 == "results" && $4 != "self")' "$work/sim/ratings.csv" > "$work/ratings.csv"
echo "ratings: $(($(wc -l < "$work/ratings.csv") - 1))"
echo "== valuetree calibrate --model plain =="
/usr/bin/time -f "valuetree wall %e s, peak %M KB" "$valuetree" calibrate --ratings "$work/ratings.csv" --model plain > "$work/valuetree.csv"
echo "== lme4 (REML), plain model =="
/usr/bin/time -f "lme4 wall %e s, peak %M KB" Rscript "$here/calibrate.R" "$work/ratings.csv" "$work/lme4.csv" plain
Rscript -e '
v <- read.csv(commandArgs(TRUE)[1]); l <- read.csv(commandArgs(TRUE)[2])
m <- merge(v, l, by = "person_id", suffixes = c(".valuetree", ".lme4"))
cat(sprintf("agreement on %d ratees: Pearson %.4f, Spearman %.4f; std errors Pearson %.4f\n", nrow(m),
    cor(m$calibrated.valuetree, m$calibrated.lme4), cor(m$calibrated.valuetree, m$calibrated.lme4, method = "spearman"),
    cor(m$std_error.valuetree, m$std_error.lme4)))
' "$work/valuetree.csv" "$work/lme4.csv"
