#!/bin/sh
# As the official memcached image: `-m 64` as arguments means `memcached -m 64`.
# memcached's own default listens on all interfaces, port 11211 (Debian's
# -l 127.0.0.1 lives only in /etc/memcached.conf, which this does not read).
set -e
if [ "${1#-}" != "$1" ]; then
	set -- memcached "$@"
fi
exec "$@"
