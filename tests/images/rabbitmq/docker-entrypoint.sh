#!/usr/bin/env bash
# RabbitMQ 3.10 reads no RABBITMQ_DEFAULT_* variables, so this writes the
# official image's contract (RABBITMQ_DEFAULT_USER, _PASS, _VHOST, each also
# as _FILE) into /etc/rabbitmq/conf.d/20-default-user.conf (0600) before the
# start, or, when a value holds what rabbitmq.conf cannot (`#` starts a
# comment there), into /etc/rabbitmq/advanced.config (0600) as Erlang terms.
# Like everywhere, they only take effect when the node's database is created (first boot with an empty /var/lib/rabbitmq/mnesia/rabbit@HOST;
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

# rabbitmq.conf (cuttlefish) has no quoting: `#` starts a comment and
# surrounding blanks are trimmed. Such values go to advanced.config instead.
conf_safe() {
	case "$1" in
		*'#'* | *$'\n'* | *$'\r'* | ' '* | *' ' | $'\t'* | *$'\t') return 1 ;;
	esac
}
erl_bin() { # an Erlang binary literal holding $1 (UTF-8)
	local s="${1//\\/\\\\}"
	s="${s//\"/\\\"}"
	s="${s//$'\n'/\\n}"
	s="${s//$'\r'/\\r}"
	printf '<<"%s"/utf8>>' "$s"
}

write_defaults() { # as root, before the start
	local conf=/etc/rabbitmq/conf.d/20-default-user.conf
	local adv="${RABBITMQ_ADVANCED_CONFIG_FILE:-/etc/rabbitmq/advanced.config}"
	local marker='%% written by docker-entrypoint.sh from RABBITMQ_DEFAULT_*'
	rm -f "$conf"
	if [ -f "$adv" ] && [ "$(head -n1 "$adv")" = "$marker" ]; then rm -f "$adv"; fi
	local user="${RABBITMQ_DEFAULT_USER:-}" pass="${RABBITMQ_DEFAULT_PASS:-}" vhost="${RABBITMQ_DEFAULT_VHOST:-}"
	[ -n "$user$pass$vhost" ] || return 0
	if conf_safe "$user" && conf_safe "$pass" && conf_safe "$vhost"; then
		(
			umask 077
			echo "# written by docker-entrypoint.sh from RABBITMQ_DEFAULT_*" >"$conf"
			if [ -n "$user" ]; then echo "default_user = $user" >>"$conf"; fi
			if [ -n "$pass" ]; then echo "default_pass = $pass" >>"$conf"; fi
			if [ -n "$vhost" ]; then echo "default_vhost = $vhost" >>"$conf"; fi
		)
		chown rabbitmq:rabbitmq "$conf"
		chmod 0600 "$conf"
	else
		if [ -e "$adv" ]; then
			echo >&2 "error: a RABBITMQ_DEFAULT_* value holds '#', a line break or outer blanks, which"
			echo >&2 "       rabbitmq.conf cannot hold, and $adv is not ours to replace"
			exit 1
		fi
		local terms=()
		if [ -n "$user" ]; then terms+=("{default_user, $(erl_bin "$user")}"); fi
		if [ -n "$pass" ]; then terms+=("{default_pass, $(erl_bin "$pass")}"); fi
		if [ -n "$vhost" ]; then terms+=("{default_vhost, $(erl_bin "$vhost")}"); fi
		local IFS=,
		(
			umask 077
			printf '%s\n[{rabbit, [%s]}].\n' "$marker" "${terms[*]}" >"$adv"
		)
		chown rabbitmq:rabbitmq "$adv"
		chmod 0600 "$adv"
	fi
}

if [ "${1:0:1}" = '-' ]; then
	set -- rabbitmq-server "$@"
fi

if [ "$1" = rabbitmq-server ]; then
	if [ "$(id -u)" = 0 ]; then
		file_env RABBITMQ_DEFAULT_USER
		file_env RABBITMQ_DEFAULT_PASS
		file_env RABBITMQ_DEFAULT_VHOST
		write_defaults
		# Keep the secrets out of the server's environment.
		unset RABBITMQ_DEFAULT_USER RABBITMQ_DEFAULT_PASS RABBITMQ_DEFAULT_VHOST
		mkdir -p /var/lib/rabbitmq /var/log/rabbitmq
		find /var/lib/rabbitmq /var/log/rabbitmq /etc/rabbitmq \! -user rabbitmq -exec chown rabbitmq:rabbitmq '{}' +
		exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups "${BASH_SOURCE[0]}" "$@"
	fi
	cd /var/lib/rabbitmq
	export HOME=/var/lib/rabbitmq
	shift
	set -- /usr/lib/rabbitmq/bin/rabbitmq-server "$@"
fi

exec "$@"
