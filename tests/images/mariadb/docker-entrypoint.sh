#!/usr/bin/env bash
# shellcheck disable=SC1090 # init scripts are sourced by design
# Subset of the official mariadb image's entrypoint:
#   MARIADB_ROOT_PASSWORD | MARIADB_ALLOW_EMPTY_ROOT_PASSWORD |
#   MARIADB_RANDOM_ROOT_PASSWORD, MARIADB_ROOT_HOST (default %),
#   MARIADB_DATABASE, MARIADB_USER, MARIADB_PASSWORD; each also as MYSQL_*
#   and as *_FILE. Initialises only when /var/lib/mysql/mysql is missing,
#   with a temporary server that has networking off; runs
#   /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz. Drops to mysql.
set -Eeo pipefail

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock

mysql_note() { printf '%s [Note] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*"; }
mysql_error() { printf '%s [ERROR] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*" >&2; exit 1; }

# file_env NAME [DEFAULT]: MARIADB_NAME, else MYSQL_NAME, else their _FILE
# variants; exported as MARIADB_NAME.
file_env() {
	local name="$1" def="${2:-}" val=""
	local m="MARIADB_$name" y="MYSQL_$name" fm="MARIADB_${name}_FILE" fy="MYSQL_${name}_FILE"
	if [ -n "${!m:-}" ] && [ -n "${!fm:-}" ]; then mysql_error "both $m and $fm are set (but are exclusive)"; fi
	if [ -n "${!y:-}" ] && [ -n "${!fy:-}" ]; then mysql_error "both $y and $fy are set (but are exclusive)"; fi
	if [ -n "${!m:-}" ]; then val="${!m}"
	elif [ -n "${!y:-}" ]; then val="${!y}"
	elif [ -n "${!fm:-}" ]; then val="$(<"${!fm}")"
	elif [ -n "${!fy:-}" ]; then val="$(<"${!fy}")"
	else val="$def"; fi
	export "$m"="$val"
	unset "$fm" "$fy"
}

setup_env() {
	file_env ROOT_PASSWORD
	file_env ALLOW_EMPTY_ROOT_PASSWORD
	file_env RANDOM_ROOT_PASSWORD
	file_env ROOT_HOST '%'
	file_env DATABASE
	file_env USER
	file_env PASSWORD
}

verify_env() {
	if [ -z "$MARIADB_ROOT_PASSWORD" ] && [ -z "$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD" ] && [ -z "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
		mysql_error $'Database is uninitialized and password option is not specified\n\tYou need to specify one of MARIADB_ROOT_PASSWORD, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD and MARIADB_RANDOM_ROOT_PASSWORD'
	fi
	if [ "$MARIADB_USER" = root ]; then
		mysql_error 'MARIADB_USER="root", MARIADB_USER and MARIADB_PASSWORD are for configuring a regular user and cannot be used for the root user.'
	fi
	if [ -n "$MARIADB_USER" ] && [ -z "$MARIADB_PASSWORD" ]; then
		mysql_error 'MARIADB_USER is set but MARIADB_PASSWORD is not'
	fi
}

# '...' literal body: backslashes, newlines and quotes escaped.
sql_str() {
	local nl=$'\n' s="${1//\\/\\\\}"
	s="${s//$nl/\\n}"
	printf '%s' "${s//\'/\\\'}"
}
sql_ident() { printf '%s' "${1//\`/\`\`}"; }

init_client() { mariadb --protocol=socket --socket="$SOCKET" -uroot -hlocalhost --database=mysql "$@"; }

init_database() {
	mysql_note "Initializing database files"
	mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal \
		--skip-test-db --skip-name-resolve --default-time-zone=SYSTEM --loose-innodb_buffer_pool_load_at_startup=0 \
		--loose-innodb_buffer_pool_dump_at_shutdown=0 >/dev/null
	mysql_note "Database files initialized"

	mysql_note "Starting temporary server (no networking)"
	mariadbd --skip-networking --socket="$SOCKET" --default-time-zone=SYSTEM --wsrep_on=OFF \
		--expire-logs-days=0 --skip-slave-start --loose-innodb_buffer_pool_load_at_startup=0 \
		--loose-innodb_buffer_pool_dump_at_shutdown=0 &
	local pid=$!
	for _ in $(seq 60); do
		if mariadb-admin --socket="$SOCKET" -uroot ping >/dev/null 2>&1; then break; fi
		kill -0 "$pid" 2>/dev/null || mysql_error "temporary server exited"
		sleep 0.5
	done
	mariadb-admin --socket="$SOCKET" -uroot ping >/dev/null 2>&1 || mysql_error "temporary server did not start"
	mysql_note "Temporary server started"

	if [ -n "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
		MARIADB_ROOT_PASSWORD="$(tr -dc '[:alnum:]' </dev/urandom | head -c 32)"
		export MARIADB_ROOT_PASSWORD
		mysql_note "GENERATED ROOT PASSWORD: $MARIADB_ROOT_PASSWORD"
	fi

	local rootpw host sql=""
	rootpw="$(sql_str "$MARIADB_ROOT_PASSWORD")"
	host="$(sql_str "$MARIADB_ROOT_HOST")"
	sql+="SET @@SESSION.SQL_LOG_BIN=0;"
	# Drop the anonymous and host-named accounts mariadb-install-db made.
	sql+="DELETE FROM mysql.global_priv WHERE User = '' OR (User = 'root' AND Host NOT IN ('localhost'));"
	sql+="FLUSH PRIVILEGES;"
	sql+="SET PASSWORD FOR 'root'@'localhost' = PASSWORD('$rootpw');"
	if [ -n "$MARIADB_ROOT_HOST" ] && [ "$MARIADB_ROOT_HOST" != localhost ]; then
		sql+="CREATE USER 'root'@'$host' IDENTIFIED BY '$rootpw';"
		sql+="GRANT ALL ON *.* TO 'root'@'$host' WITH GRANT OPTION;"
		sql+="GRANT PROXY ON ''@'%' TO 'root'@'$host' WITH GRANT OPTION;"
	fi
	if [ -n "$MARIADB_DATABASE" ]; then
		mysql_note "Creating database $MARIADB_DATABASE"
		sql+="CREATE DATABASE IF NOT EXISTS \`$(sql_ident "$MARIADB_DATABASE")\`;"
	fi
	if [ -n "$MARIADB_USER" ]; then
		mysql_note "Creating user $MARIADB_USER"
		local u p
		u="$(sql_str "$MARIADB_USER")"
		p="$(sql_str "$MARIADB_PASSWORD")"
		sql+="CREATE USER '$u'@'%' IDENTIFIED BY '$p';"
		if [ -n "$MARIADB_DATABASE" ]; then
			sql+="GRANT ALL ON \`$(sql_ident "${MARIADB_DATABASE//_/\\_}")\`.* TO '$u'@'%';"
		fi
	fi
	init_client --binary-mode <<<"$sql"

	# From here on root has its password.
	export MYSQL_PWD="$MARIADB_ROOT_PASSWORD"
	local f
	for f in /docker-entrypoint-initdb.d/*; do
		[ -e "$f" ] || continue
		case "$f" in
			*.sh)
				if [ -x "$f" ]; then mysql_note "running $f"; "$f"
				else mysql_note "sourcing $f"; . "$f"; fi ;;
			*.sql) mysql_note "running $f"; init_client --database="${MARIADB_DATABASE:-mysql}" <"$f" ;;
			*.sql.gz) mysql_note "running $f"; gunzip -c "$f" | init_client --database="${MARIADB_DATABASE:-mysql}" ;;
			*) mysql_note "ignoring $f" ;;
		esac
	done

	mysql_note "Stopping temporary server"
	kill "$pid"
	wait "$pid" || true
	unset MYSQL_PWD
	mysql_note "MariaDB init process done. Ready for start up."
}

# `docker run mariadb:10.11 --max-connections=50` == `... mariadbd --max-...`
if [ "${1:0:1}" = '-' ]; then
	set -- mariadbd "$@"
fi

if [ "$1" = mariadbd ] || [ "$1" = mysqld ]; then
	setup_env
	if [ "$(id -u)" = 0 ]; then
		mkdir -p "$DATADIR" /run/mysqld
		find "$DATADIR" /run/mysqld \! -user mysql -exec chown mysql: '{}' +
		exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
	fi
	if [ ! -d "$DATADIR/mysql" ]; then
		verify_env
		init_database
	else
		mysql_note "Database directory appears to contain a database; Skipping initialization"
	fi
fi

exec "$@"
