#!/usr/bin/env bash
# Server time of the web pages at the demo scale (`valuetree serve --demo`, ~2,000 people over
# three years), signed in through the form like a browser.
#
#   VALUETREE=target/release/valuetree bench/web/run.sh
#
# For each page: N views in a row by one client (the first 5 dropped), p50 and p95 of curl's
# time_total (connection set-up included, so the server's own time is a little less). The
# diagnostics pages are also measured "cold": before each view the operator records a
# contribution from another process, so the server sees a new ledger head and builds the
# diagnostics' base again — the first view after a write.
set -euo pipefail
V=${VALUETREE:-valuetree}
N=${N:-60}
COLD=${COLD:-12}
WORK=$(mktemp -d)
trap '[ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT

"$V" serve --demo --db "$WORK/demo.db" --addr 127.0.0.1:0 > "$WORK/serve.out" 2>&1 &
SERVER=$!
for _ in $(seq 600); do
    grep -q "ready: the snapshot is loaded" "$WORK/serve.out" 2>/dev/null && break
    sleep 0.2
done
URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$WORK/serve.out" | head -1)
[ -n "$URL" ] || { cat "$WORK/serve.out" >&2; exit 1; }

sign_in() { # persona → cookie jar
    local persona=$1 user password
    read -r _ _ _ user password < <(grep "demo login: $persona " "$WORK/serve.out")
    curl -s -o /dev/null -c "$WORK/$persona.jar" -H "Origin: $URL" \
        --data-urlencode "username=$user" --data-urlencode "password=$password" "$URL/login"
}

stats() { # label, then times in seconds on stdin → "label  p50 ms  p95 ms"
    sort -g | awk -v label="$1" '{ t[NR] = $1 * 1000 }
        END { p50 = t[int((NR - 1) * 0.50) + 1]; p95 = t[int((NR - 1) * 0.95) + 1];
              printf "%-48s p50 %7.1f ms   p95 %7.1f ms   (%d views)\n", label, p50, p95, NR }'
}

view() { # persona path → one time_total, failing on anything but 200
    local out
    out=$(curl -s -o /dev/null -b "$WORK/$1.jar" -w '%{http_code} %{time_total}' "$URL$2")
    [ "${out%% *}" = 200 ] || { echo "GET $2 as $1: HTTP ${out%% *}" >&2; exit 1; }
    echo "${out#* }"
}

warm() { # persona path
    for i in $(seq "$N"); do
        t=$(view "$1" "$2")
        [ "$i" -gt 5 ] && echo "$t"
    done | stats "$2 ($1)"
}

a_write() { # the operator records a contribution: a new ledger head
    "$V" --db "$WORK/demo.db" contribution record INI220 --person P0001845 --phase build \
        --effort 1 --description "bench write" > /dev/null
}

cold() { # persona path: each view is the first after a write
    for _ in $(seq "$COLD"); do
        a_write
        view "$1" "$2"
    done | stats "$2 ($1, first view after a write)"
}

for persona in employee lead hr; do sign_in "$persona"; done
# The demo's cycles are named after the half-year it is loaded in: take its latest.
CYCLE=$(curl -s -b "$WORK/hr.jar" "$URL/api/cycles" | grep -o '"cycle_id":"[^"]*"' | tail -1 | cut -d'"' -f4)
[ -n "$CYCLE" ] || { echo "no review cycle in the demo" >&2; exit 1; }
echo "$URL  $(date -u +%FT%TZ)  $(nproc) cores"
warm employee /
warm lead /
warm employee /nodes/INI220
warm employee /tree
warm employee /org
warm employee /flagpoles
warm employee "/reviews/$CYCLE"
warm hr "/cycles/$CYCLE/calibration"
for page in /diagnostics /diagnostics/churn /diagnostics/collaboration /diagnostics/tree \
    /diagnostics/ratings /diagnostics/whatif; do
    warm hr "$page"
done
for page in /diagnostics /diagnostics/churn /diagnostics/collaboration /diagnostics/tree \
    /diagnostics/ratings; do
    cold hr "$page"
done
