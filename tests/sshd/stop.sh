#!/usr/bin/env bash
# Stop the sshd that tests/sshd/start.sh started for STATE_DIR, and the
# per-connection sshd processes it forked. Keeps keys and logs. Idempotent.
#
# Usage: stop.sh STATE_DIR
set -euo pipefail

die() { echo "stop.sh: $*" >&2; exit 1; }
[[ $# == 1 ]] || die "usage: stop.sh STATE_DIR"
[[ -d $1 ]] || exit 0
STATE="$(cd "$1" && pwd)"
pidfile="$STATE/sshd.pid"
[[ -s $pidfile ]] || exit 0
pid="$(<"$pidfile")"
[[ $pid =~ ^[0-9]+$ ]] || { rm -f "$pidfile"; exit 0; }

# Only a process that really is this STATE_DIR's sshd.
if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "-f $STATE/sshd_config"; then
  # Open sessions live in children of the listener; end them too.
  children="$(pgrep -P "$pid" || true)"
  kill -TERM "$pid" 2>/dev/null || true
  # shellcheck disable=SC2086
  [[ -z $children ]] || kill -TERM $children 2>/dev/null || true
  for _ in $(seq 50); do
    [[ -d /proc/$pid ]] || break
    sleep 0.1
  done
  if [[ -d /proc/$pid ]]; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  echo "stopped sshd $pid"
fi
rm -f "$pidfile"
