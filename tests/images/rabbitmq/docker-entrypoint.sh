#!/usr/bin/env bash
# RabbitMQ 3.10 reads no RABBITMQ_DEFAULT_* variables, so this writes the
# official image's contract (RABBITMQ_DEFAULT_USER, _PASS, _VHOST, each also
# as _FILE) into /etc/rabbitmq/conf.d/20-default-user.conf (0600) before the
# start. Like everywhere, they only take effect when the node's database is
# created (first boot with an empty /var/lib/rabbitmq/mnesia/rabbit@HOST;
# node data is per hostname, so give the container a fixed hostname).
# Runs the server as the rabbitmq user with its logs on stdout (Debian's
# /usr/sbin/rabbitmq-server wrapper would send them to /var/log/rabbitmq).
set -Eeo pipefail

file_env() {
	local var="$1" fileVar="${1}_FILE"
	if [ -n "${!var:-}" ] && [ -n "${!fileVar:-}" ]; then
		echo >&2 "error: both $var and $fileVar are set (but are exclusive)"
		exit 1
	fi
	if [ -n "${!fileVar:-}" ]; then
		export "$var"="$(<"${!fileVar}")"
	fi
	unset "$fileVar"
}

conf_value_ok() { # cuttlefish values are one line; refuse what it cannot hold
	case "$2" in
		*$'\n'*) echo >&2 "error: $1 must not contain a newline"; exit 1 ;;
	esac
}

if [ "${1:0:1}" = '-' ]; then
	set -- rabbitmq-server "$@"
fi

if [ "$1" = rabbitmq-server ]; then
	if [ "$(id -u)" = 0 ]; then
		file_env RABBITMQ_DEFAULT_USER
		file_env RABBITMQ_DEFAULT_PASS
		file_env RABBITMQ_DEFAULT_VHOST
		conf=/etc/rabbitmq/conf.d/20-default-user.conf
		rm -f "$conf"
		if [ -n "${RABBITMQ_DEFAULT_USER:-}${RABBITMQ_DEFAULT_PASS:-}${RABBITMQ_DEFAULT_VHOST:-}" ]; then
			(
				umask 077
				{
					echo "# written by docker-entrypoint.sh from RABBITMQ_DEFAULT_*"
					if [ -n "${RABBITMQ_DEFAULT_USER:-}" ]; then
						conf_value_ok RABBITMQ_DEFAULT_USER "$RABBITMQ_DEFAULT_USER"
						echo "default_user = $RABBITMQ_DEFAULT_USER"
					fi
					if [ -n "${RABBITMQ_DEFAULT_PASS:-}" ]; then
						conf_value_ok RABBITMQ_DEFAULT_PASS "$RABBITMQ_DEFAULT_PASS"
						echo "default_pass = $RABBITMQ_DEFAULT_PASS"
					fi
					if [ -n "${RABBITMQ_DEFAULT_VHOST:-}" ]; then
						conf_value_ok RABBITMQ_DEFAULT_VHOST "$RABBITMQ_DEFAULT_VHOST"
						echo "default_vhost = $RABBITMQ_DEFAULT_VHOST"
					fi
				} >"$conf"
			)
			chown rabbitmq:rabbitmq "$conf"
			chmod 0600 "$conf"
		fi
		# Keep the secrets out of the server's environment.
		unset RABBITMQ_DEFAULT_USER RABBITMQ_DEFAULT_PASS RABBITMQ_DEFAULT_VHOST
		mkdir -p /var/lib/rabbitmq /var/log/rabbitmq
		find /var/lib/rabbitmq /var/log/rabbitmq /etc/rabbitmq \! -user rabbitmq -exec chown rabbitmq:rabbitmq '{}' +
		exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups "$BASH_SOURCE" "$@"
	fi
	cd /var/lib/rabbitmq
	export HOME=/var/lib/rabbitmq
	shift
	set -- /usr/lib/rabbitmq/bin/rabbitmq-server "$@"
fi

exec "$@"
