#!/usr/bin/env bash
# The diagnostics at the simulator's 250,000-person scale, end to end, each beside the
# credit report (the floor: it loads the same contributions) in the same minute.
#
#   valuetree sim --people 250000 --years 3 --seed 1 --out s250
#   valuetree --db s250.db import dir s250
#   bench/diagnostics/run.sh s250.db
#
# It also copies the database to make a 2,000-person team (a plan applied with --apply) and
# times `whatif` dissolving it, on the command line and on a warm server.
set -euo pipefail
DB=${1:?usage: run.sh S250.db}
V=${VALUETREE:-valuetree}
export VALUETREE_CLOCK=${VALUETREE_CLOCK:-2024-12-31T00:00:00Z}
RUNS=${RUNS:-2}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null || true' EXIT

timed() {
    local label=$1
    shift
    /usr/bin/time -f "$label	%e s	%M KB" "$@" > /dev/null 2>> "$WORK/times" || {
        echo "$label failed" >&2
        exit 1
    }
    tail -1 "$WORK/times"
}

CYCLE=$(sqlite3 "$DB" "SELECT cycle_id FROM cycles ORDER BY ends_on DESC LIMIT 1")
for run in $(seq "$RUNS"); do
    timed "floor: credit --format csv" "$V" --db "$DB" credit --format csv
    timed "diagnose kept-credit" "$V" --db "$DB" diagnose kept-credit
    timed "diagnose kept-credit --format json" "$V" --db "$DB" diagnose kept-credit --format json
    timed "diagnose kept-credit --by reorganisation" "$V" --db "$DB" diagnose kept-credit --by reorganisation
    timed "diagnose churn" "$V" --db "$DB" diagnose churn
    timed "diagnose collaboration" "$V" --db "$DB" diagnose collaboration
    timed "diagnose collaboration --depth 1" "$V" --db "$DB" diagnose collaboration --depth 1
    timed "diagnose tree" "$V" --db "$DB" diagnose tree
    timed "diagnose ratings --cycle $CYCLE" "$V" --db "$DB" diagnose ratings --cycle "$CYCLE"
done

# A 2,000-person team: the first 2,000 people of the largest department's other teams join
# its largest team; then a plan dissolves that team into another one.
COPY="$WORK/s250w.db"
cp "$DB" "$COPY"
read -r TEAM DEPT < <(sqlite3 -separator ' ' "$COPY" "SELECT a.unit_id, u.parent_unit_id FROM assignments a JOIN units u USING (unit_id) JOIN people p USING (person_id) WHERE a.valid_to IS NULL AND p.left_on IS NULL AND u.valid_to IS NULL GROUP BY a.unit_id ORDER BY COUNT(*) DESC LIMIT 1")
OTHER=$(sqlite3 "$COPY" "SELECT unit_id FROM units WHERE valid_to IS NULL AND unit_id <> '$TEAM' AND parent_unit_id = '$DEPT' LIMIT 1")
{
    echo "action,subject_id,target_id,date,manager_id"
    sqlite3 "$COPY" "SELECT a.person_id FROM assignments a JOIN people p USING (person_id) JOIN units u ON u.unit_id = a.unit_id WHERE a.valid_to IS NULL AND p.left_on IS NULL AND u.parent_unit_id = '$DEPT' AND a.unit_id <> '$TEAM' ORDER BY a.person_id LIMIT 2000" |
        awk -v team="$TEAM" '{ print "move_person," $1 "," team ",2025-01-10," }'
} > "$WORK/grow.csv"
"$V" --db "$COPY" whatif "$WORK/grow.csv" --apply > /dev/null
printf 'action,subject_id,target_id,date,manager_id\ndissolve_unit,%s,%s,2025-01-20,\n' "$TEAM" "$OTHER" > "$WORK/dissolve.csv"
for run in $(seq "$RUNS"); do
    timed "floor: credit --format csv" "$V" --db "$COPY" credit --format csv
    timed "whatif: dissolve a 2,000-person team (command line)" "$V" --db "$COPY" whatif "$WORK/dissolve.csv"
done

# The same plan on a warm server: the first call builds the diagnostics' base.
"$V" --db "$COPY" role grant P0000001 hr > /dev/null
"$V" --db "$COPY" user add bench --person P0000001 > /dev/null
TOKEN=$("$V" --db "$COPY" user token bench --name bench --scope write | tail -1)
"$V" --db "$COPY" serve --addr 127.0.0.1:18089 > "$WORK/serve.out" 2> "$WORK/serve.err" &
SERVER=$!
for _ in $(seq 300); do curl -sf http://127.0.0.1:18089/readyz > /dev/null && break; sleep 1; done
for call in first second third; do
    curl -s -o /dev/null -w "whatif over HTTP ($call call)	%{time_total} s	%{http_code}\n" \
        -H "Authorization: Bearer $TOKEN" --data-binary @"$WORK/dissolve.csv" http://127.0.0.1:18089/api/whatif
done
for route in kept-credit churn collaboration tree; do
    curl -s -o /dev/null -w "GET /api/diagnose/$route (warm)	%{time_total} s	%{http_code}\n" \
        -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:18089/api/diagnose/$route"
done
