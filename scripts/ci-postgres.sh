#!/usr/bin/env bash
# Start (or stop) a throwaway PostgreSQL server for the tests that need one.
#
#   eval "$(scripts/ci-postgres.sh start)"   # prints: export POSDRILL_PG_URL=... POSDRILL_PG_DIR=...
#   scripts/ci-postgres.sh stop              # stops the server in $POSDRILL_PG_DIR and removes it
#
# start installs PostgreSQL 15 from the Debian packages when no server is found (root only),
# creates a cluster in a new temporary directory, starts it on 127.0.0.1 on a free port (as
# the postgres user when run as root: postgres refuses to run as root), waits until it
# accepts connections (pg_ctl -w), creates the database posdrill and prints the variables
# to export. Everything it says besides those lines goes to stderr.
# POSDRILL_PG_FAST=1 turns fsync off (CI speed; never for benchmarks).
set -euo pipefail

say() { echo "ci-postgres: $*" >&2; }

find_bin() {
	local d
	for d in /usr/lib/postgresql/*/bin "$(dirname "$(readlink -f "$(command -v pg_ctl 2>/dev/null || echo /nonexistent)")")"; do
		if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ] && [ -x "$d/createdb" ]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

as_db_user() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

start() {
	local bin dir port tries
	if ! bin=$(find_bin); then
		if [ "$(id -u)" != 0 ]; then
			say "PostgreSQL is not installed and this is not root: install postgresql-15 first"
			exit 1
		fi
		say "installing postgresql-15"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >&2
		apt-get install -y -qq postgresql-15 >&2
		bin=$(find_bin)
	fi
	if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
		useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
	fi
	dir=$(mktemp -d /tmp/posdrill-pg.XXXXXX)
	chmod 755 "$dir"
	[ "$(id -u)" = 0 ] && chown postgres: "$dir"
	as_db_user "$bin/initdb" -D "$dir/data" -U posdrill --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	local opts="-c listen_addresses=127.0.0.1 -k $dir -c max_connections=200"
	if [ "${POSDRILL_PG_FAST:-}" = 1 ]; then
		opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	fi
	for tries in 1 2 3 4 5 6 7 8; do
		port=$((20000 + RANDOM % 20000))
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			continue # something listens there
		fi
		if as_db_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "-p $port $opts" start >&2; then
			as_db_user "$bin/createdb" -h 127.0.0.1 -p "$port" -U posdrill posdrill
			say "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, data in $dir"
			echo "export POSDRILL_PG_URL='postgres://posdrill@127.0.0.1:$port/posdrill?sslmode=disable'"
			echo "export POSDRILL_PG_DIR='$dir'"
			return 0
		fi
		say "could not start on port $port (try $tries):"
		tail -5 "$dir/server.log" >&2 || true
	done
	exit 1
}

stop() {
	local bin dir=${POSDRILL_PG_DIR:-${1:-}}
	if [ -z "$dir" ] || [ ! -d "$dir/data" ]; then
		say "nothing to stop (POSDRILL_PG_DIR is not set)"
		return 0
	fi
	bin=$(find_bin)
	as_db_user "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
	rm -rf "$dir"
}

case "${1:-}" in
start) start ;;
stop) stop "${2:-}" ;;
*)
	echo "usage: $0 start | stop [DIR]" >&2
	exit 2
	;;
esac
