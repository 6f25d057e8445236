#!/usr/bin/env bash
# bench/audit.sh: what the audit trail costs (what `make bench-audit` runs).
#
# 1. pgbench on a scratch database, as a yardstick for this machine's
#    Postgres (select-only and simple-update, 32 clients).
# 2. telefhir serve on Postgres and on the embedded store, each fresh, with
#    the audit trail on and off, loaded by bench/loadgen with the `read`
#    and `create` scenarios.
# 3. A Markdown report on stdout and in bench/results/audit-latest.md.
#
# Progress goes to stderr. See bench/README.md for what each number means.
# Everything is overridable by environment (defaults in brackets):
#   BENCH_DURATION [20s]      measured time of each loadgen and pgbench run
#   BENCH_WARMUP [3s]         loadgen warmup, not counted
#   BENCH_CLIENTS [32]        loadgen clients and pgbench clients
#   BENCH_SEED_COUNT [1000]   Patients created before `read`
#   BENCH_CREATE_SEED_COUNT [100]  Patients created before `create` (subjects)
#   BENCH_STORES ["postgres embedded"]
#   BENCH_AUDIT ["on off"]    audit trail modes (telefhir serve --audit), each on a fresh store
#   BENCH_PG_HOST [127.0.0.1] BENCH_PG_PORT [5432] BENCH_PG_USER [postgres]
#   BENCH_PGBENCH [1]         0 skips the pgbench yardstick
#   BENCH_PGBENCH_SCALE [10]  pgbench -i -s
#   PGBENCH                   path of pgbench (default: found, see find_pgbench)
#   BENCH_PORT                server port (default: first free in 18080-18179)
#   BENCH_READY_TIMEOUT [60]  seconds to wait for GET /metadata to answer 200
#   BENCH_SERVER_ARGS         extra arguments for `telefhir serve`
#   BENCH_TELEFHIR_BIN        a prebuilt telefhir binary to use instead of building ./cmd/telefhir
#   BENCH_OUT [bench/results/audit-latest.md]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DURATION=${BENCH_DURATION:-20s}
WARMUP=${BENCH_WARMUP:-3s}
CLIENTS=${BENCH_CLIENTS:-32}
SEED_COUNT=${BENCH_SEED_COUNT:-1000}
CREATE_SEED_COUNT=${BENCH_CREATE_SEED_COUNT:-100}
STORES=${BENCH_STORES:-postgres embedded}
AUDIT_MODES=${BENCH_AUDIT:-on off}
PG_HOST=${BENCH_PG_HOST:-127.0.0.1}
PG_PORT=${BENCH_PG_PORT:-5432}
PG_USER=${BENCH_PG_USER:-postgres}
DO_PGBENCH=${BENCH_PGBENCH:-1}
PGBENCH_SCALE=${BENCH_PGBENCH_SCALE:-10}
READY_TIMEOUT=${BENCH_READY_TIMEOUT:-60}
OUT=${BENCH_OUT:-bench/results/audit-latest.md}
read -r -a SERVER_ARGS <<<"${BENCH_SERVER_ARGS:-}"

PGBENCH_DB=telefhir_bench_pgbench
BENCH_DB=telefhir_bench
DATABASE_URL="postgres://${PG_USER}@${PG_HOST}:${PG_PORT}/${BENCH_DB}?sslmode=disable"
export PGCONNECT_TIMEOUT=5

log() { printf '==> %s\n' "$*" >&2; }

# to_seconds turns 20, 20s or 2m into whole seconds (pgbench -T wants them).
to_seconds() {
	case $1 in
	*[!0-9sm]* | '' | *m*s* | s | m) return 1 ;;
	*m) echo $((${1%m} * 60)) ;;
	*s) echo "${1%s}" ;;
	*) echo "$1" ;;
	esac
}
if ! PGBENCH_SECONDS=$(to_seconds "$DURATION"); then
	echo "bench: BENCH_DURATION=$DURATION: use whole seconds or minutes (20s, 2m) so pgbench can use it too" >&2
	exit 2
fi
DURATION="${PGBENCH_SECONDS}s" # loadgen wants a unit

WORK=$(mktemp -d "${TMPDIR:-/tmp}/telefhir-bench.XXXXXX")
SERVER_PID=""
FAILED=0

stop_server() {
	[[ -n $SERVER_PID ]] || return 0
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		local deadline=$((SECONDS + 20))
		while kill -0 "$SERVER_PID" 2>/dev/null && ((SECONDS < deadline)); do
			sleep 0.2
		done
		if kill -0 "$SERVER_PID" 2>/dev/null; then
			log "server $SERVER_PID ignored SIGTERM for 20s; killing it"
			kill -KILL "$SERVER_PID" 2>/dev/null || true
		fi
	fi
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=""
}

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	stop_server
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools -------------------------------------------------------------------

# find_pgbench prints the path of pgbench: $PGBENCH if set, else the one on
# PATH (on Debian /usr/bin/pgbench is the pg_wrapper from
# postgresql-client-common), else the newest of the versioned installs
# (/usr/lib/postgresql/*/bin on Debian/Ubuntu, /usr/pgsql-*/bin on RHEL,
# Homebrew's libpq).
find_pgbench() {
	if [[ -n ${PGBENCH:-} ]]; then
		[[ -x $PGBENCH ]] && echo "$PGBENCH" && return 0
		return 1
	fi
	if command -v pgbench >/dev/null 2>&1; then
		command -v pgbench
		return 0
	fi
	local c
	c=$(compgen -G '/usr/lib/postgresql/*/bin/pgbench' ; compgen -G '/usr/pgsql-*/bin/pgbench' ; compgen -G '/opt/homebrew/opt/libpq/bin/pgbench' ; compgen -G '/usr/local/opt/libpq/bin/pgbench') || true
	c=$(printf '%s\n' "$c" | grep . | sort -V | tail -n 1) || true
	[[ -n $c && -x $c ]] && echo "$c" && return 0
	return 1
}

PSQL=""
if command -v psql >/dev/null 2>&1; then
	PSQL=$(command -v psql)
fi

psql_admin() { PGOPTIONS="-c client_min_messages=warning" "$PSQL" -X -w -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -v ON_ERROR_STOP=1 "$@" </dev/null; }

PG_OK=0
PG_NOTE=""
if [[ -z $PSQL ]]; then
	PG_NOTE="psql not found (Debian: apt-get install postgresql-client)"
elif ! PG_VERSION=$(psql_admin -tAc 'SHOW server_version' 2>"$WORK/psql.err"); then
	PG_NOTE="Postgres not reachable at ${PG_USER}@${PG_HOST}:${PG_PORT} ($(head -n 1 "$WORK/psql.err"))"
else
	PG_OK=1
fi
[[ -z $PG_NOTE ]] || log "$PG_NOTE: Postgres benchmarks skipped"

# fresh_db drops and recreates database $1 (only the bench's own names).
fresh_db() {
	psql_admin -c "DROP DATABASE IF EXISTS \"$1\"" -c "CREATE DATABASE \"$1\""
}

if [[ -n ${BENCH_TELEFHIR_BIN:-} ]]; then
	log "using prebuilt $BENCH_TELEFHIR_BIN"
	cp "$BENCH_TELEFHIR_BIN" "$WORK/telefhir"
else
	log "building ./cmd/telefhir into $WORK"
	if ! go build -o "$WORK/telefhir" ./cmd/telefhir; then
		echo "bench: go build ./cmd/telefhir failed" >&2
		exit 1
	fi
fi
log "building ./bench/loadgen into $WORK"
go build -o "$WORK/loadgen" ./bench/loadgen

# --- pgbench yardstick -------------------------------------------------------

PGBENCH_ROWS=()
AUDIT_NOTES=()
PGBENCH_RAW=()
PGBENCH_NOTE=""

# pgbench_run LABEL ARGS...: one timed pgbench run, parsed into a table row.
pgbench_run() {
	local label=$1
	shift
	local out="$WORK/pgbench-${label// /_}.txt"
	log "pgbench $label: $*"
	if ! "$PGBENCH_BIN" -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$@" "$PGBENCH_DB" >"$out" 2>&1 </dev/null; then
		log "pgbench $label failed:"
		tail -n 5 "$out" >&2
		PGBENCH_ROWS+=("| $label | FAILED | | |")
		FAILED=1
		return 0
	fi
	local tps lat failed
	tps=$(sed -nE 's/^tps = ([0-9.]+) \((without|excluding).*/\1/p' "$out" | head -n 1)
	lat=$(sed -nE 's/^latency average = ([0-9.]+) ms.*/\1/p' "$out" | head -n 1)
	failed=$(sed -nE 's/^number of failed transactions: ([0-9]+).*/\1/p' "$out" | head -n 1)
	PGBENCH_ROWS+=("| $label | $(printf '%.0f' "${tps:-0}") | ${lat:-?} ms | ${failed:-n/a} |")
	PGBENCH_RAW+=("$label:")
	while IFS= read -r line; do PGBENCH_RAW+=("  $line"); done < <(grep -E '^(number of transactions actually processed|number of failed|latency average|initial connection time|tps = )' "$out")
}

if [[ $DO_PGBENCH != 1 ]]; then
	PGBENCH_NOTE="pgbench skipped (BENCH_PGBENCH=$DO_PGBENCH)"
elif [[ $PG_OK != 1 ]]; then
	PGBENCH_NOTE="pgbench skipped: $PG_NOTE"
elif ! PGBENCH_BIN=$(find_pgbench); then
	PGBENCH_NOTE="pgbench NOT FOUND: not on PATH, not in /usr/lib/postgresql/*/bin or /usr/pgsql-*/bin (Debian: apt-get install postgresql-contrib or postgresql-client; or set PGBENCH=/path/to/pgbench). No Postgres yardstick this run."
else
	log "pgbench is $PGBENCH_BIN; initialising $PGBENCH_DB at scale $PGBENCH_SCALE"
	if fresh_db "$PGBENCH_DB" && "$PGBENCH_BIN" -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -i -q -s "$PGBENCH_SCALE" "$PGBENCH_DB" >"$WORK/pgbench-init.txt" 2>&1 </dev/null; then
		pgbench_run "-S (select only)" -S -c "$CLIENTS" -j 2 -T "$PGBENCH_SECONDS"
		pgbench_run "-N (simple update)" -N -c "$CLIENTS" -j 2 -T "$PGBENCH_SECONDS"
	else
		log "pgbench -i failed:"
		tail -n 5 "$WORK/pgbench-init.txt" >&2 || true
		PGBENCH_NOTE="pgbench -i failed (see above)"
		FAILED=1
	fi
	psql_admin -c "DROP DATABASE IF EXISTS \"$PGBENCH_DB\"" || true
fi
[[ -n $PGBENCH_NOTE ]] && log "$PGBENCH_NOTE"

# --- telefhir ------------------------------------------------------------------

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
	if [[ -n ${BENCH_PORT:-} ]]; then
		echo "$BENCH_PORT"
		return 0
	fi
	local p
	for p in $(seq 18080 18179); do
		if ! port_in_use "$p"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# start_server STORE ARGS...: starts telefhir in the background, logging to
# $WORK/server-STORE.log, and waits until GET /metadata answers 200.
start_server() {
	local store=$1
	shift
	local logfile="$WORK/server-$store.log"
	TELEFHIR_AUTH=off "$WORK/telefhir" serve --addr "127.0.0.1:$PORT" "$@" ${SERVER_ARGS[@]+"${SERVER_ARGS[@]}"} >"$logfile" 2>&1 &
	SERVER_PID=$!
	local deadline=$((SECONDS + READY_TIMEOUT)) code
	while ((SECONDS < deadline)); do
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			log "telefhir ($store) exited before it was ready; last lines of its log:"
			tail -n 20 "$logfile" >&2
			wait "$SERVER_PID" 2>/dev/null || true
			SERVER_PID=""
			return 1
		fi
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/metadata" || true)
		[[ $code == 200 ]] && return 0
		sleep 0.2
	done
	log "telefhir ($store) did not answer GET /metadata with 200 within ${READY_TIMEOUT}s; last lines of its log:"
	tail -n 20 "$logfile" >&2
	stop_server
	return 1
}

# json_field FILE KEY prints the top-level scalar KEY of loadgen's one-line
# -json output.
json_field() { sed -nE "s/.*\"$2\":\"?([^,\"}]*)\"?[,}].*/\1/p" "$1" | head -n 1; }

ROWS=()
AUDIT_NOTES=()

# bench_scenario STORE AUDIT SCENARIO SEEDS: one loadgen run, one table row.
bench_scenario() {
	local store=$1 audit=$2 scenario=$3 seeds=$4
	local out="$WORK/$store-$audit-$scenario.json"
	log "loadgen $scenario on $store (audit $audit): $CLIENTS clients, $WARMUP warmup + $DURATION, $seeds Patients seeded"
	local cpu0
	cpu0=$(server_cpu_ticks)
	if ! "$WORK/loadgen" -url "http://127.0.0.1:$PORT" -scenario "$scenario" -c "$CLIENTS" \
		-d "$DURATION" -warmup "$WARMUP" -seed-count "$seeds" -json >"$out" 2>"$WORK/$store-$audit-$scenario.err"; then
		log "loadgen $scenario on $store failed:"
		tail -n 5 "$WORK/$store-$audit-$scenario.err" >&2
		ROWS+=("| $scenario | $store | $audit | FAILED: $(tail -n 1 "$WORK/$store-$audit-$scenario.err" | tr '|' '/') | | | | |")
		FAILED=1
		return 0
	fi
	local cpu1 rps p50 p99 errors by requests cpu_us
	cpu1=$(server_cpu_ticks)
	rps=$(json_field "$out" throughput_rps)
	requests=$(json_field "$out" requests)
	# The server's CPU over the whole loadgen run (seeding and warmup
	# included), per request sent in it.
	cpu_us=$(awk -v t="$((cpu1 - cpu0))" -v hz="$(getconf CLK_TCK)" -v n="$requests" -v s="$seeds" -v r="$rps" -v w="${WARMUP%s}" \
		'BEGIN { total = n + s + r * w; if (total > 0) printf "%.0f", t / hz / total * 1e6; else print "?" }')
	p50=$(json_field "$out" latency_p50_ms)
	p99=$(json_field "$out" latency_p99_ms)
	errors=$(json_field "$out" errors)
	if [[ -n $errors && $errors != 0 ]]; then
		by=$(sed -nE 's/.*"errors_by_status":\{([^}]*)\}.*/\1/p' "$out" | tr -d '"' | sed 's/,/, /g')
		errors="$errors ($by)"
	fi
	ROWS+=("$(printf '| %s | %s | %s | %.0f | %.2f ms | %.2f ms | %s µs | %s |' "$scenario" "$store" "$audit" "${rps:-0}" "${p50:-0}" "${p99:-0}" "${cpu_us:-?}" "${errors:-?}")")
	[[ $audit == on ]] && audit_backlog "$store" "$scenario"
	return 0
}

# server_cpu_ticks prints the user+system CPU clock ticks the server has
# used so far.
server_cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat" 2>/dev/null || echo 0
}

# audit_backlog STORE SCENARIO: how long the records the run left queued
# take to seal. A read of AuditEvent first seals everything queued before
# it, so the time of one such request is the time to catch up.
audit_backlog() {
	local store=$1 scenario=$2 res secs total
	if ! res=$(curl -s --max-time 600 -w ' %{time_total}' "http://127.0.0.1:$PORT/AuditEvent?_summary=count"); then
		AUDIT_NOTES+=("| $scenario | $store | FAILED to read the trail | |")
		FAILED=1
		return 0
	fi
	secs=${res##* }
	total=$(sed -nE 's/.*"total":([0-9]+).*/\1/p' <<<"${res% *}")
	AUDIT_NOTES+=("$(printf '| %s | %s | %s | %.1f s |' "$scenario" "$store" "${total:-?}" "$secs")")
}

NOTES=()
for store in $STORES; do
	for audit in $AUDIT_MODES; do
		case $audit in
		on | off) ;;
		*)
			echo "bench: unknown audit mode $audit in BENCH_AUDIT (want on and/or off)" >&2
			exit 2
			;;
		esac
		case $store in
		postgres)
			if [[ $PG_OK != 1 ]]; then
				NOTES+=("postgres store skipped: $PG_NOTE")
				continue 2
			fi
			log "recreating database $BENCH_DB"
			if ! fresh_db "$BENCH_DB"; then
				ROWS+=("| read | $store | $audit | FAILED: could not recreate $BENCH_DB | | | | |")
				FAILED=1
				continue
			fi
			store_args=(--data "$WORK/data-postgres-$audit" --database-url "$DATABASE_URL")
			;;
		embedded)
			store_args=(--data "$WORK/data-embedded-$audit")
			;;
		*)
			echo "bench: unknown store $store in BENCH_STORES (want postgres and/or embedded)" >&2
			exit 2
			;;
		esac
		mkdir -p "$WORK/data-$store-$audit"
		if ! PORT=$(pick_port); then
			echo "bench: no free port in 18080-18179; set BENCH_PORT" >&2
			exit 1
		fi
		log "starting telefhir on $store (audit $audit) at 127.0.0.1:$PORT"
		if ! start_server "$store" "${store_args[@]}" --audit "$audit"; then
			ROWS+=("| read | $store | $audit | FAILED: server did not start | | | | |" "| create | $store | $audit | FAILED: server did not start | | | | |")
			FAILED=1
			continue
		fi
		bench_scenario "$store" "$audit" read "$SEED_COUNT"
		bench_scenario "$store" "$audit" create "$CREATE_SEED_COUNT"
		log "stopping telefhir ($store, audit $audit)"
		stop_server
	done
done

# --- report --------------------------------------------------------------------

git_rev=$(git rev-parse --short HEAD 2>/dev/null || echo "no commit")
if [[ -n $(git status --porcelain 2>/dev/null | head -n 1) ]]; then
	git_rev="$git_rev (dirty tree)"
fi
cpu=$(sed -nE 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1)

{
	echo "# telefhir benchmark"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), git $git_rev."
	echo "loadgen: $CLIENTS closed-loop clients, $WARMUP warmup then $DURATION measured;"
	echo "\`read\` = GET /Patient/{id} over $SEED_COUNT seeded Patients, \`create\` = POST a ~2 KB vital-signs Observation."
	echo "Server started with TELEFHIR_AUTH=off on 127.0.0.1; loadgen runs on the same machine."
	echo
	echo "| scenario | store | audit | req/s | p50 | p99 | server CPU per request | errors |"
	echo "|---|---|---|---:|---:|---:|---:|---|"
	for r in ${ROWS[@]+"${ROWS[@]}"}; do echo "$r"; done
	if ((${#AUDIT_NOTES[@]} > 0)); then
		echo
		echo "With the audit trail on, records are durable in the queue before each response and sealed"
		echo "(indexed, hash-chained) in the background, yielding to requests. After each run, one read of"
		echo "the trail waits until everything queued is sealed; the AuditEvents stored (cumulative per"
		echo "server) and how long that read took:"
		echo
		echo "| after | store | AuditEvents | sealing the backlog took |"
		echo "|---|---|---:|---:|"
		for r in "${AUDIT_NOTES[@]}"; do echo "$r"; done
	fi
	for n in ${NOTES[@]+"${NOTES[@]}"}; do
		echo
		echo "Note: $n"
	done
	echo
	echo "## Postgres yardstick (pgbench)"
	echo
	if ((${#PGBENCH_ROWS[@]} > 0)); then
		echo "Scale $PGBENCH_SCALE, $CLIENTS clients, 2 threads, ${PGBENCH_SECONDS}s each; ${PGBENCH_BIN} against PostgreSQL ${PG_VERSION:-?} at $PG_HOST:$PG_PORT."
		echo
		echo "| pgbench | tps | avg latency | failed |"
		echo "|---|---:|---:|---:|"
		for r in "${PGBENCH_ROWS[@]}"; do echo "$r"; done
		echo
		echo '```'
		for r in ${PGBENCH_RAW[@]+"${PGBENCH_RAW[@]}"}; do echo "$r"; done
		echo '```'
	fi
	[[ -z $PGBENCH_NOTE ]] || echo "$PGBENCH_NOTE"
	echo
	echo "## Machine"
	echo
	echo '```'
	echo "nproc:   $(nproc 2>/dev/null || echo '?')"
	echo "cpu:     ${cpu:-unknown}"
	echo "kernel:  $(uname -sr)"
	echo "date:    $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
	echo "go:      $(go version)"
	echo "git:     $git_rev"
	echo "postgres: ${PG_VERSION:-n/a}"
	echo "free -g:"
	free -g 2>/dev/null || echo "  (free not available)"
	echo '```'
} >"$WORK/report.md"

mkdir -p "$(dirname "$OUT")"
cp "$WORK/report.md" "$OUT"
cat "$WORK/report.md"
log "report written to $OUT"
exit "$FAILED"
