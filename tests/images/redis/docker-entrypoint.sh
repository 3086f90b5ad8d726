#!/bin/sh
# Like the official redis image's entrypoint: `-x`/`--opt`/`*.conf` as first
# argument means redis-server; protected mode is off unless the arguments or
# the given config file set it (the official image compiles it off; Debian's
# redis-server defaults it on, which refuses clients from other containers
# when no password is set); runs as the redis user.
set -e

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi

if [ "$1" = redis-server ]; then
	case " $* " in
	*" --protected-mode "*) ;;
	*)
		conf=""
		if [ $# -ge 2 ] && [ "${2#-}" = "$2" ]; then conf="$2"; fi
		if [ -z "$conf" ] || ! grep -qiE '^[[:space:]]*protected-mode[[:space:]]' "$conf" 2>/dev/null; then
			set -- "$@" --protected-mode no
		fi
		;;
	esac
	if [ "$(id -u)" = 0 ]; then
		find . \! -user redis -exec chown redis '{}' +
		exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
	fi
	um="$(umask)"
	if [ "$um" = 0022 ]; then umask 0077; fi
fi

exec "$@"
