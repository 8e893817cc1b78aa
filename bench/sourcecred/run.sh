#!/usr/bin/env bash
# Times SourceCred's CredRank and valuetree's credit engine on the same graph, in one run.
#   bench/sourcecred/run.sh [nodes] [edges] [participants]
# Needs node and npm (SourceCred 0.11.2 is installed from the npm registry into a scratch
# directory) and GNU time (/usr/bin/time). Figures go to docs/benchmarks.md by hand.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
nodes="${1:-100000}"; edges="${2:-1000000}"; people="${3:-1000}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$here/credrank.js" "$work/"
(cd "$work" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
echo "== SourceCred CredRank ($nodes nodes, $edges edges, $people participants) =="
(cd "$work" && SOURCECRED_DIR="$work/node_modules/sourcecred" /usr/bin/time -v \
    node --max-old-space-size=16384 credrank.js --nodes "$nodes" --edges "$edges" \
    --participants "$people" --tsv "$work/graph.tsv" 2>"$work/sourcecred.time")
grep -E "Elapsed|Maximum resident" "$work/sourcecred.time"
echo "== valuetree credit engine, same graph =="
(cd "$root" && cargo build --release --quiet -p valuetree --bench credit_tsv 2>/dev/null || true)
bin="$(ls -t "$root"/target/release/deps/credit_tsv-* 2>/dev/null | grep -v '\.d$' | head -n 1)"
if [ -z "$bin" ]; then
    (cd "$root" && cargo bench --no-run -p valuetree --bench credit_tsv)
    bin="$(ls -t "$root"/target/release/deps/credit_tsv-* | grep -v '\.d$' | head -n 1)"
fi
VALUETREE_TSV="$work/graph.tsv" /usr/bin/time -v "$bin" --bench 2>"$work/valuetree.time"
grep -E "Elapsed|Maximum resident" "$work/valuetree.time"
