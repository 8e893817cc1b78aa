#!/usr/bin/env bash
# Runs a command and samples its memory every second: seconds since the start, RssAnon and
# RssFile in MiB (from /proc/PID/status), one line each, into OUT; the command's own output
# goes to OUT.stdout. The peak of the anonymous memory is what a process really holds: the
# file-backed part (SQLite's memory map) the kernel can drop at will.
#
#   bench/rss.sh rss.txt valuetree --db new.db import dir s250
#   sort -k2 -n rss.txt | tail -1        # the peak
set -euo pipefail
out=$1
shift
"$@" >"$out.stdout" 2>&1 &
pid=$!
start=$(date +%s)
while kill -0 "$pid" 2>/dev/null; do
    anon=$(awk '/RssAnon/ {print int($2/1024)}' "/proc/$pid/status" 2>/dev/null || true)
    file=$(awk '/RssFile/ {print int($2/1024)}' "/proc/$pid/status" 2>/dev/null || true)
    echo "$(($(date +%s) - start)) ${anon:-0} ${file:-0}" >>"$out"
    sleep 1
done
wait "$pid"
