#!/usr/bin/env bash
# Side by side with R's ordinal::clmm on the same ratings file, in one run:
#   bench/ordinal/run.sh [people]        (150 people ≈ 2,350 results ratings)
# Installs r-base-core and r-cran-ordinal from Debian if missing. Compares the ordinal model
# with only the ratee and rater effects (valuetree --model ordinal-plain; clmm with
# score ~ 1 + (1|ratee) + (1|rater), link = "probit"): agreement of each person's expected
# score and its standard error, and time. clmm did not finish within 25 minutes on 17,800
# ratings: start small.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
people="${1:-150}"
if ! command -v Rscript >/dev/null 2>&1 || ! Rscript -e 'library(ordinal)' >/dev/null 2>&1; then
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y r-base-core r-cran-ordinal
fi
(cd "$root" && cargo build --release --quiet -p valuetree)
valuetree="$root/target/release/valuetree"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$valuetree" sim --people "$people" --years 3 --seed 1 --out "$work/sim" >/dev/null
# The same rows for both: results ratings, self-ratings apart.
awk -F, 'NR == 1 || ($5 == "results" && $4 != "self")' "$work/sim/ratings.csv" > "$work/ratings.csv"
echo "ratings: $(($(wc -l < "$work/ratings.csv") - 1))"
echo "== valuetree calibrate --model ordinal-plain =="
/usr/bin/time -f "valuetree wall %e s, peak %M KB" "$valuetree" calibrate --ratings "$work/ratings.csv" --model ordinal-plain > "$work/valuetree.csv"
echo "== clmm (Laplace), probit, ratee and rater =="
/usr/bin/time -f "clmm wall %e s, peak %M KB" Rscript "$here/clmm.R" "$work/ratings.csv" "$work/clmm.csv"
Rscript -e '
v <- read.csv(commandArgs(TRUE)[1]); l <- read.csv(commandArgs(TRUE)[2])
m <- merge(v, l, by = "person_id", suffixes = c(".valuetree", ".clmm"))
cat(sprintf("agreement on %d ratees: expected score Pearson %.4f, Spearman %.4f, largest difference %.4f; std errors Pearson %.4f, mean %.4f vs %.4f\n", nrow(m),
    cor(m$calibrated.valuetree, m$calibrated.clmm), cor(m$calibrated.valuetree, m$calibrated.clmm, method = "spearman"),
    max(abs(m$calibrated.valuetree - m$calibrated.clmm)),
    cor(m$std_error.valuetree, m$std_error.clmm), mean(m$std_error.valuetree), mean(m$std_error.clmm)))
' "$work/valuetree.csv" "$work/clmm.csv"
