#!/bin/sh
# Default command: run the checks once (results on stdout, i.e. in the
# container's logs, and in /tmp/check.jsonl; exit status in /tmp/check.rc),
# then idle until stopped. SIGTERM ends it at once (a bare `sleep` as PID 1
# would ignore it and `docker stop` would wait 10 s).
trap 'exit 0' TERM INT
{ python3 /app/check.py; echo "$?" >/tmp/check.rc; } | tee /tmp/check.jsonl
echo "check.py exited $(cat /tmp/check.rc)"
sleep infinity &
wait $!
