#!/usr/bin/env bash
# bench/subscriptions.sh: the subscription benchmarks (what
# `make bench-subscriptions` runs), as a Markdown report on stdout and in
# bench/results/subscriptions-latest.md.
#
# 1. Matching: the cost per change with 10,000 subscriptions registered,
#    through the index and without it, and the once-per-change index
#    extraction (go test -bench 'Match|Extract').
# 2. Latency: commit → rest-hook receipt, p50/p99, with 100 active
#    subscriptions while BENCH_SUBS_RATE [1000] matching changes a second
#    commit for BENCH_SUBS_SECONDS [3] (embedded store and NATS in-process;
#    the receiver is an HTTP server on loopback).
# 3. Websocket fan-out: one event to 1,000 clients bound to one
#    subscription, commit to the last client's receipt (BENCH_SUBS_FANOUT_N
#    [20] events).
#
# Everything runs on this machine; the benchmark, the server's components
# and the receivers share its CPUs.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT=${BENCH_OUT:-bench/results/subscriptions-latest.md}
FANOUT_N=${BENCH_SUBS_FANOUT_N:-20}
mkdir -p "$(dirname "$OUT")"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "matching..." >&2
go test ./subscriptions -run '^$' -bench 'Match|Extract' -benchtime 2s -count 1 | tee -a "$log" >&2
echo "rest-hook latency..." >&2
go test ./subscriptions -run '^$' -bench 'RestHookLatency' -benchtime 1x -count 1 | tee -a "$log" >&2
echo "websocket fan-out..." >&2
go test ./subscriptions -run '^$' -bench 'WebsocketFanout' -benchtime "${FANOUT_N}x" -count 1 | tee -a "$log" >&2

{
	echo "## Subscriptions ($(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD))"
	echo
	echo '```'
	grep -E '^(Benchmark|goos|goarch|cpu)' "$log"
	echo '```'
} | tee "$OUT"
