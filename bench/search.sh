#!/usr/bin/env bash
# bench/search.sh: telefhir's search benchmark (what `make bench-search` runs).
#
# 1. A synthetic data set in Postgres: database telefhir_bench_search, loaded
#    with `telefhir synth` (10,000 Patients × 100 vital-sign Observations by
#    default, plus their Devices and Encounters), then VACUUM ANALYZE. The
#    database is kept: a later run reuses it when it holds the same data set
#    on the same schema, and reloads it otherwise (BENCH_SEARCH_RELOAD=1
#    forces a reload).
# 2. telefhir serve on it (TELEFHIR_AUTH=off, loopback), and bench/loadgen's
#    get scenario for every line of bench/search-queries.tsv: 32 closed-loop
#    clients for each query, one client for the latency of single requests.
# 3. bench/searchplan: EXPLAIN (ANALYZE, BUFFERS) and the generic plan of
#    every statement of every query, checked for sequential scans of the
#    large tables.
# 4. A Markdown report on stdout and in bench/results/search-latest.md.
#
# Progress goes to stderr. Everything is overridable by environment
# (defaults in brackets):
#   BENCH_SEARCH_PATIENTS [10000]      Patients in the data set
#   BENCH_SEARCH_OBS_PER_PATIENT [100] Observations per Patient
#   BENCH_SEARCH_SEED [1]              seed of the data set
#   BENCH_SEARCH_RELOAD [0]            1: drop and reload the data set
#   BENCH_SEARCH_WRITERS [4]           concurrent transactions of the load
#   BENCH_SEARCH_QUERIES [bench/search-queries.tsv]
#   BENCH_SEARCH_STRICT [0]            1: exit 1 when a latency goal is missed or a plan
#                                      has a sequential scan of a large table
#   BENCH_DURATION [20s] BENCH_WARMUP [3s]  measured time and warmup of each loadgen run
#   BENCH_PG_HOST [127.0.0.1] BENCH_PG_PORT [5432] BENCH_PG_USER [postgres]
#   BENCH_PORT                         server port (default: first free in 18180-18279)
#   BENCH_READY_TIMEOUT [120]          seconds to wait for GET /metadata
#   BENCH_SERVER_ARGS                  extra arguments for `telefhir serve`
#   BENCH_OUT [bench/results/search-latest.md]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PATIENTS=${BENCH_SEARCH_PATIENTS:-10000}
PER_PATIENT=${BENCH_SEARCH_OBS_PER_PATIENT:-100}
SEED=${BENCH_SEARCH_SEED:-1}
RELOAD=${BENCH_SEARCH_RELOAD:-0}
WRITERS=${BENCH_SEARCH_WRITERS:-4}
QUERIES=${BENCH_SEARCH_QUERIES:-bench/search-queries.tsv}
STRICT=${BENCH_SEARCH_STRICT:-0}
DURATION=${BENCH_DURATION:-20s}
WARMUP=${BENCH_WARMUP:-3s}
PG_HOST=${BENCH_PG_HOST:-127.0.0.1}
PG_PORT=${BENCH_PG_PORT:-5432}
PG_USER=${BENCH_PG_USER:-postgres}
READY_TIMEOUT=${BENCH_READY_TIMEOUT:-120}
OUT=${BENCH_OUT:-bench/results/search-latest.md}
read -r -a SERVER_ARGS <<<"${BENCH_SERVER_ARGS:-}"

DB=telefhir_bench_search
SCHEMA_DB=telefhir_bench_search_schema
db_url() { echo "postgres://${PG_USER}@${PG_HOST}:${PG_PORT}/$1?sslmode=disable"; }
DATABASE_URL=$(db_url "$DB")
export PGCONNECT_TIMEOUT=5

log() { printf '==> %s\n' "$*" >&2; }
die() {
	echo "bench-search: $*" >&2
	exit 1
}

[[ -f $QUERIES ]] || die "no queries file $QUERIES"
command -v psql >/dev/null 2>&1 || die "psql not found (Debian: apt-get install postgresql-client); this benchmark needs Postgres"
command -v curl >/dev/null 2>&1 || die "curl not found"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/telefhir-bench-search.XXXXXX")
SERVER_PID=""
FAILED=0
GOALS_MISSED=0

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

psql_db() {
	local db=$1
	shift
	PGOPTIONS="-c client_min_messages=warning" psql -X -w -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$db" -v ON_ERROR_STOP=1 "$@" </dev/null
}
psql_admin() { psql_db postgres "$@"; }

PG_VERSION=$(psql_admin -tAc 'SHOW server_version' 2>"$WORK/psql.err") ||
	die "Postgres not reachable at ${PG_USER}@${PG_HOST}:${PG_PORT}: $(head -n 1 "$WORK/psql.err")"

log "building ./cmd/telefhir, ./bench/loadgen and ./bench/searchplan into $WORK"
go build -o "$WORK/telefhir" ./cmd/telefhir || die "go build ./cmd/telefhir failed"
go build -o "$WORK/loadgen" ./bench/loadgen || die "go build ./bench/loadgen failed"
go build -o "$WORK/searchplan" ./bench/searchplan || die "go build ./bench/searchplan failed"

# --- the data set --------------------------------------------------------------

# The database's comment says which data set it holds, once it is complete:
# its sizes and seed, a digest of a small sample of the generator's output
# (so a change to the generator means a reload), and how the load went.
"$WORK/telefhir" synth --out "$WORK/sample" --patients 3 --observations-per-patient 20 --seed "$SEED" >/dev/null ||
	die "telefhir synth --out failed"
SAMPLE=$(cat "$WORK"/sample/*.ndjson | sha256sum | cut -c1-16)
WANT="telefhir synth: patients=$PATIENTS observations-per-patient=$PER_PATIENT seed=$SEED sample=$SAMPLE"

# schema prints the tables, columns and indexes of database $1.
schema() {
	psql_db "$1" -tAc "SELECT string_agg(x, E'\n' ORDER BY x) FROM (
		SELECT tablename || ': ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
		UNION ALL SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || coalesce(collation_name, '')
		FROM information_schema.columns WHERE table_schema = 'public') s(x)"
}

# same_schema says whether $DB, brought up to date by `telefhir migrate`,
# has the schema a fresh database gets from the current migrations (an
# edited migration that $DB applied before does not match).
same_schema() {
	"$WORK/telefhir" migrate --database-url "$DATABASE_URL" >/dev/null || return 1
	psql_admin -c "DROP DATABASE IF EXISTS \"$SCHEMA_DB\"" -c "CREATE DATABASE \"$SCHEMA_DB\"" || return 1
	"$WORK/telefhir" migrate --database-url "$(db_url "$SCHEMA_DB")" >/dev/null || return 1
	local a b
	a=$(schema "$DB") && b=$(schema "$SCHEMA_DB") || return 1
	psql_admin -c "DROP DATABASE IF EXISTS \"$SCHEMA_DB\"" || true
	[[ $a == "$b" ]]
}

HAVE=$(psql_admin -tAc "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = '$DB'")
LOAD_NOTE=""
if [[ $RELOAD != 1 && $HAVE == "$WANT;"* ]] && same_schema; then
	LOAD_NOTE="reused ${DB}: ${HAVE#"$WANT; "}"
	log "$DB already holds the data set ($LOAD_NOTE)"
else
	if [[ $RELOAD == 1 ]]; then
		log "BENCH_SEARCH_RELOAD=1: reloading $DB"
	elif [[ -n $HAVE ]]; then
		log "$DB holds another data set or schema; reloading"
	else
		log "$DB is missing or incomplete; loading"
	fi
	psql_admin -c "DROP DATABASE IF EXISTS \"$DB\"" -c "CREATE DATABASE \"$DB\"" || die "could not recreate $DB"
	log "telefhir synth: $PATIENTS Patients × $PER_PATIENT Observations, seed $SEED, $WRITERS writers"
	load_start=$SECONDS
	if ! "$WORK/telefhir" synth --database-url "$DATABASE_URL" --patients "$PATIENTS" \
		--observations-per-patient "$PER_PATIENT" --seed "$SEED" --writers "$WRITERS" | tee "$WORK/synth.log" >&2; then
		die "telefhir synth failed (see above); $DB is left incomplete and will be reloaded next time"
	fi
	load_s=$((SECONDS - load_start))
	log "VACUUM ANALYZE"
	vacuum_start=$SECONDS
	psql_db "$DB" -c "VACUUM (ANALYZE)" || die "VACUUM ANALYZE failed"
	vacuum_s=$((SECONDS - vacuum_start))
	summary=$(grep -E 'loaded [0-9]+ resources' "$WORK/synth.log" | sed -E 's/^telefhir synth: //; s/:.*//')
	LOAD_NOTE="$summary, then VACUUM ANALYZE in ${vacuum_s}s (load ${load_s}s wall, $(date -u '+%Y-%m-%d %H:%M UTC'), load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
	psql_admin -c "COMMENT ON DATABASE \"$DB\" IS '$WANT; $LOAD_NOTE'"
fi

# Table sizes.
SIZES=$(psql_db "$DB" -tA -F ' | ' -c "
	SELECT c.relname, to_char(c.reltuples::bigint, 'FM999,999,999,999'),
		pg_size_pretty(pg_table_size(c.oid)), pg_size_pretty(pg_indexes_size(c.oid)), pg_size_pretty(pg_total_relation_size(c.oid))
	FROM pg_class c
	WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
		AND (c.relname IN ('resource', 'resource_version') OR c.relname LIKE 'idx\_%')
	ORDER BY pg_total_relation_size(c.oid) DESC")
DB_SIZE=$(psql_admin -tAc "SELECT pg_size_pretty(pg_database_size('$DB'))")
COUNTS=$(psql_db "$DB" -tA -F ' ' -c "SELECT res_type, count(*) FROM resource GROUP BY res_type ORDER BY 2 DESC" | awk '{printf "%s%s %s", (NR>1?", ":""), $2, $1}')
psql_db "$DB" -tAc "SELECT res_id FROM resource WHERE res_type = 'Patient' ORDER BY rid" >"$WORK/patients.txt"
[[ -s $WORK/patients.txt ]] || die "$DB has no Patients"

# --- latency ---------------------------------------------------------------------

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
	if [[ -n ${BENCH_PORT:-} ]]; then
		echo "$BENCH_PORT"
		return 0
	fi
	local p
	for p in $(seq 18180 18279); do
		if ! port_in_use "$p"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}
PORT=$(pick_port) || die "no free port in 18180-18279; set BENCH_PORT"
BASE="http://127.0.0.1:$PORT"

LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "starting telefhir on $DB at $BASE"
TELEFHIR_AUTH=off "$WORK/telefhir" serve --addr "127.0.0.1:$PORT" --data "$WORK/data" --database-url "$DATABASE_URL" \
	--log-level warn ${SERVER_ARGS[@]+"${SERVER_ARGS[@]}"} >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
deadline=$((SECONDS + READY_TIMEOUT))
until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/metadata" || true) == 200 ]]; do
	if ! kill -0 "$SERVER_PID" 2>/dev/null || ((SECONDS >= deadline)); then
		tail -n 20 "$WORK/server.log" >&2
		die "telefhir did not answer GET $BASE/metadata with 200"
	fi
	sleep 0.2
done

json_field() { sed -nE "s/.*\"$2\":\"?([^,\"}]*)\"?[,}].*/\1/p" "$1" | head -n 1; }

# shape NAME PATH: what one request of PATH (first Patient for {patient})
# returns: matches, included resources and total, from the Bundle.
shape() {
	local path=${2//\{patient\}/$(head -n 1 "$WORK/patients.txt")} f="$WORK/shape-$1.json" code
	code=$(curl -s -o "$f" -w '%{http_code}' --max-time 60 -H 'Accept: application/fhir+json' "$BASE$path" || true)
	if [[ $code != 200 ]]; then
		echo "HTTP $code: $(head -c 300 "$f" | tr '\n|' ' /')"
		return 0
	fi
	local m i t
	m=$({ grep -o '"mode":"match"' "$f" || true; } | wc -l)
	i=$({ grep -o '"mode":"include"' "$f" || true; } | wc -l)
	t=$(sed -nE 's/.*"total":([0-9]+).*/\1/p' "$f" | head -n 1)
	echo "$m + $i${t:+ (total $t)}"
}

ROWS=()
declare -A SHAPES
while IFS=$'\t' read -r name clients p50goal p99goal path; do
	[[ -z $name || $name == \#* ]] && continue
	if [[ -z ${SHAPES[$name]+x} ]]; then
		SHAPES[$name]=$(shape "$name" "$path")
		log "$name: $path → ${SHAPES[$name]}"
	fi
	out="$WORK/$name-c$clients.json"
	log "loadgen $name: $clients clients, $WARMUP warmup + $DURATION"
	if ! "$WORK/loadgen" -url "$BASE" -scenario get -path "$path" -ids "$WORK/patients.txt" -c "$clients" \
		-d "$DURATION" -warmup "$WARMUP" -timeout 30s -rand-seed 1 -json >"$out" 2>"$WORK/$name-c$clients.err"; then
		tail -n 5 "$WORK/$name-c$clients.err" >&2
		ROWS+=("| $name | $clients | FAILED: $(tail -n 1 "$WORK/$name-c$clients.err" | tr '|' '/') | | | | | | |")
		FAILED=1
		continue
	fi
	requests=$(json_field "$out" requests)
	rps=$(json_field "$out" throughput_rps)
	p50=$(json_field "$out" latency_p50_ms)
	p90=$(json_field "$out" latency_p90_ms)
	p99=$(json_field "$out" latency_p99_ms)
	errors=$(json_field "$out" errors)
	if [[ -n $errors && $errors != 0 ]]; then
		errors="$errors ($(sed -nE 's/.*"errors_by_status":\{([^}]*)\}.*/\1/p' "$out" | tr -d '"' | sed 's/,/, /g'))"
	fi
	if [[ $requests == 0 ]]; then
		# loadgen counts requests that start and finish inside the window.
		[[ $p50goal == - && $p99goal == - ]] || GOALS_MISSED=$((GOALS_MISSED + 1))
		ROWS+=("| $name | $clients | 0 | | | | ${errors:-?} | no request finished within the ${DURATION} window | $([[ $p50goal == - && $p99goal == - ]] || echo MISS) |")
		continue
	fi
	goal="" verdict=""
	if [[ $p50goal != - ]]; then goal="p50 ≤ $p50goal"; fi
	if [[ $p99goal != - ]]; then goal="${goal:+$goal, }p99 ≤ $p99goal"; fi
	if [[ -n $goal ]]; then
		verdict=PASS
		if [[ $p50goal != - ]] && awk -v v="$p50" -v g="$p50goal" 'BEGIN { exit !(v > g) }'; then verdict=MISS; fi
		if [[ $p99goal != - ]] && awk -v v="$p99" -v g="$p99goal" 'BEGIN { exit !(v > g) }'; then verdict=MISS; fi
		if [[ -n $errors && $errors != 0 ]]; then verdict=MISS; fi
		[[ $verdict == PASS ]] || GOALS_MISSED=$((GOALS_MISSED + 1))
		goal="$goal ms"
	fi
	ROWS+=("$(printf '| %s | %s | %.1f | %.2f | %.2f | %.2f | %s | %s | %s |' "$name" "$clients" "${rps:-0}" "${p50:-0}" "${p90:-0}" "${p99:-0}" "${errors:-?}" "$goal" "$verdict")")
done <"$QUERIES"
log "stopping telefhir"
stop_server

# --- plans ------------------------------------------------------------------------

log "explaining every statement of every query"
PLANS_NOTE=""
set +e
"$WORK/searchplan" -database-url "$DATABASE_URL" -queries "$QUERIES" -ids "$WORK/patients.txt" -base-url "$BASE" >"$WORK/plans.md" 2>"$WORK/plans.err"
plans_rc=$?
set -e
case $plans_rc in
0) PLANS_NOTE="No sequential scan of resource, resource_version or an idx_* table in any plan." ;;
3) PLANS_NOTE="**$(sed 's/^searchplan: //' "$WORK/plans.err")** (see the table)." ;;
*)
	PLANS_NOTE="searchplan FAILED: $(tail -n 1 "$WORK/plans.err")"
	FAILED=1
	;;
esac

# --- report -----------------------------------------------------------------------

git_rev=$(git rev-parse --short HEAD 2>/dev/null || echo "no commit")
if [[ -n $(git status --porcelain 2>/dev/null | head -n 1) ]]; then
	git_rev="$git_rev (dirty tree)"
fi
cpu=$(sed -nE 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1)
{
	echo "# telefhir search benchmark"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), git $git_rev; PostgreSQL $PG_VERSION at $PG_HOST:$PG_PORT, database $DB."
	echo "Server started with TELEFHIR_AUTH=off on 127.0.0.1; loadgen and Postgres run on the same machine."
	echo
	echo "## Data set"
	echo
	echo "\`telefhir synth --patients $PATIENTS --observations-per-patient $PER_PATIENT --seed $SEED\`: $COUNTS."
	echo
	echo "Load: $LOAD_NOTE."
	echo
	echo "| table | rows (estimate) | table | indexes | total |"
	echo "|---|---:|---:|---:|---:|"
	while IFS= read -r r; do [[ -n $r ]] && echo "| $r |"; done <<<"$SIZES"
	echo
	echo "Database size: $DB_SIZE."
	echo
	echo "## Latency"
	echo
	echo "loadgen \`get\` scenario, closed loop, $WARMUP warmup then $DURATION measured per row; {patient} is a random one of the $(wc -l <"$WORK/patients.txt") Patients."
	echo "Percentiles are exact, over every request of the window, in ms. Goals are the search milestone's (single-request goals checked on p99 at 1 client)."
	echo "In a closed loop, clients / throughput is the mean latency (Little's law): p50 ≤ 5 ms at 32 clients needs about 6,400 req/s."
	echo
	echo "| query | clients | req/s | p50 | p90 | p99 | errors | goal | |"
	echo "|---|---:|---:|---:|---:|---:|---|---|---|"
	for r in ${ROWS[@]+"${ROWS[@]}"}; do echo "$r"; done
	echo
	echo "What one request returns (matches + included, with {patient} = the first Patient):"
	echo
	echo "| query | path | returns |"
	echo "|---|---|---|"
	declare -A shown=()
	while IFS=$'\t' read -r name _ _ _ path; do
		[[ -z $name || $name == \#* || -z ${SHAPES[$name]+x} || -n ${shown[$name]:-} ]] && continue
		shown[$name]=1
		echo "| $name | \`$path\` | ${SHAPES[$name]} |"
	done <"$QUERIES"
	echo
	echo "## Query plans"
	echo
	echo "Every statement of every query, run by bench/searchplan through the Postgres store's statement builder with the arguments"
	echo "of the request above; each shown with EXPLAIN (ANALYZE, BUFFERS), then as the generic plan a cached prepared statement may use"
	echo "(also run with EXPLAIN (ANALYZE, BUFFERS), under plan_cache_mode = force_generic_plan)."
	echo
	echo "$PLANS_NOTE"
	echo
	cat "$WORK/plans.md"
	echo
	echo "## Machine"
	echo
	echo '```'
	echo "nproc:    $(nproc 2>/dev/null || echo '?')"
	echo "cpu:      ${cpu:-unknown}"
	echo "kernel:   $(uname -sr)"
	echo "load avg: $LOADAVG_START before the latency runs, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
	echo "go:       $(go version)"
	echo "git:      $git_rev"
	echo "postgres: $PG_VERSION; shared_buffers $(psql_admin -tAc 'SHOW shared_buffers'), work_mem $(psql_admin -tAc 'SHOW work_mem'), effective_cache_size $(psql_admin -tAc 'SHOW effective_cache_size')"
	echo "free -g:"
	free -g 2>/dev/null || echo "  (free not available)"
	echo '```'
} >"$WORK/report.md"

mkdir -p "$(dirname "$OUT")"
cp "$WORK/report.md" "$OUT"
cat "$WORK/report.md"
log "report written to $OUT"
if [[ $STRICT == 1 ]] && ((GOALS_MISSED > 0 || plans_rc == 3)); then
	log "BENCH_SEARCH_STRICT=1: $GOALS_MISSED goal(s) missed, plans exit $plans_rc"
	FAILED=1
fi
exit "$FAILED"
