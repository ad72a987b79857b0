#!/usr/bin/env bash
# ensure-postgres.sh [DBNAME]
# ensure-postgres.sh --stop
#
# Makes sure a PostgreSQL server answers and that the database exists, then
# prints the DATABASE_URL to use as the last (only) line on stdout. Every
# other message goes to stderr, so callers can write
#
#     DATABASE_URL=$(scripts/ensure-postgres.sh tenantgraph_test)
#
# The URL comes from $DATABASE_URL (default
# postgres://postgres@127.0.0.1:5432/tenantgraph?sslmode=disable); DBNAME,
# if given, replaces its database name.
#
# If a server answers at that URL, the database is created there when
# missing. Otherwise a throwaway cluster is used, kept in .pg/ at the root of
# the repository (reused if already initialised, started if stopped) and
# listening on 127.0.0.1:$PG_LOCAL_PORT (default: the first free port from
# 55432 on, chosen when the cluster is made and kept in .pg/port) with trust
# authentication; the URL printed is then
# postgres://postgres@127.0.0.1:$PG_LOCAL_PORT/DBNAME?sslmode=disable.
# Debian's PostgreSQL binaries are used (/usr/lib/postgresql/*/bin, or
# $PG_BINDIR) and installed with apt-get when missing.
#
# --stop stops that throwaway cluster if it runs (it does not delete .pg/).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEFAULT_URL='postgres://postgres@127.0.0.1:5432/tenantgraph?sslmode=disable'
LOCAL_PORT="${PG_LOCAL_PORT:-55432}"
LOCAL_DIR="${PG_LOCAL_DIR:-$ROOT/.pg}"
[[ "$LOCAL_DIR" == /* ]] || LOCAL_DIR="$PWD/$LOCAL_DIR"

log() { printf 'ensure-postgres: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- URL parts

# split_url URL: sets URL_BASE (scheme://authority), URL_DB and URL_QUERY
# (without the "?"). Only URLs are understood, not key=value strings.
split_url() {
	local url="$1" rest path
	case "$url" in
	postgres://* | postgresql://*) ;;
	*) die "DATABASE_URL must be a postgres:// URL, got: $url" ;;
	esac
	local scheme="${url%%://*}://"
	rest="${url#*://}"
	local authority="${rest%%[/?]*}"
	rest="${rest#"$authority"}"
	URL_QUERY=""
	if [[ "$rest" == *\?* ]]; then
		URL_QUERY="${rest#*\?}"
		rest="${rest%%\?*}"
	fi
	path="${rest#/}"
	URL_BASE="$scheme$authority"
	URL_DB="$path"
}

# join_url DB: URL_BASE/DB?URL_QUERY
join_url() {
	local u="$URL_BASE/$1"
	[[ -n "$URL_QUERY" ]] && u="$u?$URL_QUERY"
	printf '%s' "$u"
}

valid_dbname() {
	[[ "$1" =~ ^[A-Za-z_][A-Za-z0-9_]{0,62}$ ]]
}

# ensure_db ADMIN_URL DBNAME [RUNAS]: creates DBNAME when missing, connecting
# to ADMIN_URL (a URL or connection string for the "postgres" database).
ensure_db() {
	local admin="$1" db="$2" exists
	exists="$(psql "$admin" -XtAq -v ON_ERROR_STOP=1 \
		-c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ||
		die "cannot query the server (is the user allowed to connect to the postgres database?)"
	if [[ "$exists" == 1 ]]; then
		return 0
	fi
	log "creating database $db"
	if ! psql "$admin" -XtAq -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$db\"" >&2; then
		# Another run may have created it at the same moment.
		exists="$(psql "$admin" -XtAq -c "SELECT 1 FROM pg_database WHERE datname = '$db'" || true)"
		[[ "$exists" == 1 ]] || die "could not create database $db"
	fi
}

# ---------------------------------------------------------- local cluster

find_bindir() {
	if [[ -n "${PG_BINDIR:-}" ]]; then
		[[ -x "$PG_BINDIR/initdb" ]] || die "PG_BINDIR=$PG_BINDIR has no initdb"
		printf '%s' "$PG_BINDIR"
		return
	fi
	local d
	d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
	if [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
		printf '%s' "$d"
	fi
}

install_postgres() {
	[[ "$(id -u)" == 0 ]] || die "PostgreSQL server binaries are missing; install Debian's postgresql package (needs root)"
	log "PostgreSQL server binaries missing: installing Debian's postgresql package"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update >&2
	apt-get install -y postgresql >&2
}

# as_owner CMD...: runs CMD as the owner of the cluster (postgres when we
# are root, because initdb and postgres refuse to run as root). The lock's
# descriptor is closed so that the server does not inherit, and keep, it.
as_owner() {
	if [[ "$(id -u)" == 0 ]]; then
		(cd / && runuser -u postgres -- "$@" 9>&-)
	else
		"$@" 9>&-
	fi
}

# resolve_local_dir: keeps LOCAL_DIR unless we are root and the postgres
# user cannot reach it (a clone under a private home directory, say); then
# the cluster lives in /tmp instead, one per repository.
resolve_local_dir() {
	[[ "$(id -u)" == 0 ]] || return 0
	[[ -s "$LOCAL_DIR/data/PG_VERSION" ]] && return 0
	id postgres >/dev/null 2>&1 || return 0
	if ! runuser -u postgres -- test -x "$(dirname "$LOCAL_DIR")" 2>/dev/null; then
		local alt
		alt="${TMPDIR:-/tmp}/tenantgraph-pg-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
		log "user postgres cannot reach $LOCAL_DIR; using $alt"
		LOCAL_DIR="$alt"
	fi
}

# read_port: an existing cluster keeps the port it was made with.
read_port() {
	if [[ -s "$LOCAL_DIR/port" && -s "$LOCAL_DIR/data/PG_VERSION" ]]; then
		LOCAL_PORT="$(<"$LOCAL_DIR/port")"
	fi
}

port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pick_port: for a new cluster, the first free port from $LOCAL_PORT on
# (another clone's cluster may hold 55432), unless PG_LOCAL_PORT is set.
pick_port() {
	[[ -n "${PG_LOCAL_PORT:-}" ]] && return 0
	local p="$LOCAL_PORT" last=$((LOCAL_PORT + 100))
	while port_in_use "$p"; do
		p=$((p + 1))
		((p <= last)) || die "no free port in $LOCAL_PORT..$last; set PG_LOCAL_PORT"
	done
	LOCAL_PORT="$p"
}

start_local() {
	local bindir
	bindir="$(find_bindir)"
	if [[ -z "$bindir" ]]; then
		install_postgres
		bindir="$(find_bindir)"
		[[ -n "$bindir" ]] || die "no initdb under /usr/lib/postgresql/*/bin after installing postgresql"
	fi
	if [[ "$(id -u)" == 0 ]] && ! id postgres >/dev/null 2>&1; then
		log "creating system user postgres"
		useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
	fi

	resolve_local_dir
	read_port
	mkdir -p "$LOCAL_DIR"
	local data="$LOCAL_DIR/data" sock="$LOCAL_DIR/run" logf="$LOCAL_DIR/postgres.log"
	mkdir -p "$sock"
	if [[ "$(id -u)" == 0 ]]; then
		chown postgres: "$LOCAL_DIR" "$sock"
		touch "$logf" && chown postgres: "$logf"
	fi

	# Serialise concurrent runs (make test in two terminals).
	exec 9>>"$LOCAL_DIR/.lock"
	command -v flock >/dev/null && flock 9

	if [[ ! -s "$data/PG_VERSION" ]]; then
		pick_port
		log "initialising a throwaway cluster in $data"
		rm -rf "$data"
		local initlog="$LOCAL_DIR/initdb.log"
		: >"$initlog"
		[[ "$(id -u)" == 0 ]] && chown postgres: "$initlog"
		if ! as_owner "$bindir/initdb" -D "$data" -U postgres --auth=trust \
			--encoding=UTF8 --locale=C.UTF-8 --no-instructions >>"$initlog" 2>&1; then
			# Older systems may lack the C.UTF-8 locale.
			rm -rf "$data"
			as_owner "$bindir/initdb" -D "$data" -U postgres --auth=trust \
				--encoding=UTF8 --no-locale --no-instructions >>"$initlog" 2>&1 || {
				cat "$initlog" >&2
				die "initdb failed"
			}
		fi
		# A socket path is limited to about 107 bytes: use TCP only when
		# the repository lies too deep for one.
		local sockdirs="$sock"
		((${#sock} > 90)) && sockdirs=""
		printf '%s\n' "$LOCAL_PORT" >"$LOCAL_DIR/port"
		cat >>"$data/postgresql.conf" <<EOF

# added by scripts/ensure-postgres.sh: a throwaway cluster for development
# and tests, so durability is traded for speed.
listen_addresses = '127.0.0.1'
port = $LOCAL_PORT
unix_socket_directories = '$sockdirs'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
	fi

	log "throwaway cluster: $LOCAL_DIR, 127.0.0.1:$LOCAL_PORT"
	if as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		: # already running
	else
		log "starting the throwaway cluster on 127.0.0.1:$LOCAL_PORT (log: $logf)"
		if ! as_owner "$bindir/pg_ctl" -D "$data" -l "$logf" -w -t 60 start >&2; then
			tail -n 20 "$logf" >&2 || true
			die "could not start the throwaway cluster (is port $LOCAL_PORT taken? set PG_LOCAL_PORT)"
		fi
	fi
	exec 9>&-

	"$bindir/pg_isready" -q -h 127.0.0.1 -p "$LOCAL_PORT" -t 10 ||
		die "the throwaway cluster does not answer on 127.0.0.1:$LOCAL_PORT"
}

stop_local() {
	resolve_local_dir
	local bindir data="$LOCAL_DIR/data"
	bindir="$(find_bindir)"
	if [[ -z "$bindir" || ! -s "$data/PG_VERSION" ]]; then
		log "no throwaway cluster in $LOCAL_DIR"
		return 0
	fi
	if as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		as_owner "$bindir/pg_ctl" -D "$data" -m fast -w stop >&2
	else
		log "the throwaway cluster in $LOCAL_DIR is not running"
	fi
}

# ------------------------------------------------------------------- main

if [[ "${1:-}" == "--stop" ]]; then
	stop_local
	exit 0
fi
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
	sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 0
fi

url="${DATABASE_URL:-$DEFAULT_URL}"
split_url "$url"
db="${1:-$URL_DB}"
[[ -n "$db" ]] || die "no database name in $url and none given"
valid_dbname "$db" || die "unsupported database name: $db"

# Is a server answering at the URL's host and port? (pg_isready succeeds
# as soon as the server accepts connections, whatever the database.)
if pg_isready -q -d "$(join_url postgres)" -t 3 >/dev/null 2>&1; then
	ensure_db "$(join_url postgres)" "$db"
	join_url "$db"
	printf '\n'
	exit 0
fi

log "no PostgreSQL answers at $URL_BASE; using a throwaway cluster"
start_local
local_admin="postgres://postgres@127.0.0.1:$LOCAL_PORT/postgres?sslmode=disable"
ensure_db "$local_admin" "$db"
printf 'postgres://postgres@127.0.0.1:%s/%s?sslmode=disable\n' "$LOCAL_PORT" "$db"
