#!/usr/bin/env bash
# bench/auth.sh: what authorization costs a FHIR read. Runs bench/loadgen's
# `read` scenario (GET Patient/{id}, 32 clients) against a fresh
# `telefhir serve` with TELEFHIR_AUTH=off and then on (a bearer token from
# `telefhir token` on every request), back to back, on the embedded store
# and, when BENCH_PG_URL names a scratch database it may drop and create,
# on Postgres.
#
#   BENCH_DURATION [10s]  measured time of each run (3 s warmup before)
#   BENCH_PG_URL          e.g. postgres://postgres@127.0.0.1:5432/telefhir_authbench?sslmode=disable
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
DURATION=${BENCH_DURATION:-10s}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/telefhir-authbench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
go build -o "$WORK/telefhir" ./cmd/telefhir
go build -o "$WORK/loadgen" ./bench/loadgen

run() { # run STORE MODE
	local store=$1 mode=$2 dir="$WORK/data-$1-$2" port args=() tok=()
	port=$((18300 + RANDOM % 200))
	mkdir -p "$dir"
	if [[ $store == postgres ]]; then
		local db=${BENCH_PG_URL%%\?*}
		db=${db##*/}
		psql "${BENCH_PG_URL%/*}/postgres" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
		args=(--database-url "$BENCH_PG_URL")
	fi
	TELEFHIR_AUTH=$mode TELEFHIR_DEV_PASSWORD=bench "$WORK/telefhir" serve --addr "127.0.0.1:$port" --data "$dir" \
		--log-level error "${args[@]}" >"$dir/serve.log" 2>&1 &
	local pid=$!
	for _ in $(seq 1 300); do curl -sf -o /dev/null "http://127.0.0.1:$port/metadata" && break; sleep 0.1; done
	if [[ $mode == on ]]; then
		tok=(-token "$("$WORK/telefhir" token --data "$dir" "${args[@]}" --user practitioner --scope 'user/*.cruds')")
	fi
	printf '| %s | %s | load %s | ' "$store" "$mode" "$(cut -d' ' -f1 /proc/loadavg)"
	"$WORK/loadgen" -url "http://127.0.0.1:$port" -scenario read -c 32 -d "$DURATION" -warmup 3s -seed-count 1000 "${tok[@]}" -json 2>"$dir/loadgen.err" |
		sed -nE 's/.*"throughput_rps":([0-9.]+).*"latency_p50_ms":([0-9.]+).*"latency_p99_ms":([0-9.]+).*/\1 req\/s | p50 \2 ms | p99 \3 ms |/p'
	kill "$pid"
	wait "$pid" 2>/dev/null || true
}

echo "| store | auth | machine | throughput | p50 | p99 |"
echo "|---|---|---|---:|---:|---:|"
for mode in off on; do run embedded $mode; done
if [[ -n ${BENCH_PG_URL:-} ]]; then
	for mode in off on; do run postgres $mode; done
fi
