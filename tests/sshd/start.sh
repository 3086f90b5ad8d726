#!/usr/bin/env bash
# Start a throw-away sshd that plays one test "VM": it listens on ADDR:PORT
# (a loopback address such as 127.0.2.3; Linux routes all of 127/8 to lo),
# lets root in by key only and allows the direct-streamlocal channel the
# product uses for /var/run/docker.sock. Every VM drives the one local
# Docker engine.
#
# Usage: start.sh ADDR PORT STATE_DIR
#
# STATE_DIR gets (kept across runs, so keys stay stable):
#   ssh_host_ed25519_key[.pub]  host key
#   id_ed25519[.pub]            client key, no passphrase (the test user's)
#   authorized_keys             id_ed25519.pub
#   known_hosts.trusted         "[ADDR]:PORT ssh-ed25519 ..." for clients that
#                               should already trust this VM (known_hosts
#                               itself is left to the clients)
#   sshd_config, sshd.pid, sshd.log
#
# Idempotent: if this STATE_DIR's sshd already runs with the same config it
# is left alone; with another config it is restarted. Prints the pid.
# The system's ssh service is never enabled or started.
set -euo pipefail

die() { echo "start.sh: $*" >&2; exit 1; }
[[ $# == 3 ]] || die "usage: start.sh ADDR PORT STATE_DIR"
ADDR="$1" PORT="$2"
[[ $PORT =~ ^[0-9]+$ ]] && ((PORT > 0 && PORT < 65536)) || die "bad port: $PORT"
[[ $(id -u) == 0 ]] || die "must run as root"
mkdir -p "$3"
STATE="$(cd "$3" && pwd)"
chmod 700 "$STATE"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# ------------------------------------------------------------------ install
if [[ ! -x /usr/sbin/sshd ]]; then
  echo "start.sh: installing openssh-server (the system service stays off)" >&2
  made_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  install_ok=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openssh-server >/dev/null && install_ok=1
  if ((!install_ok)); then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openssh-server >/dev/null && install_ok=1
  fi
  ((made_policy)) && rm -f /usr/sbin/policy-rc.d
  ((install_ok)) || die "apt-get install openssh-server failed"
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
    systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true
  fi
fi
command -v ssh-keygen >/dev/null || die "ssh-keygen not found"
# sshd refuses to start without its privilege-separation directory.
mkdir -p /run/sshd
chmod 755 /run/sshd

# --------------------------------------------------------------------- keys
[[ -s $STATE/ssh_host_ed25519_key ]] ||
  ssh-keygen -q -t ed25519 -N '' -C "sdtui-test-host@$ADDR" -f "$STATE/ssh_host_ed25519_key"
[[ -s $STATE/id_ed25519 ]] ||
  ssh-keygen -q -t ed25519 -N '' -C "sdtui-test-client" -f "$STATE/id_ed25519"
chmod 600 "$STATE/ssh_host_ed25519_key" "$STATE/id_ed25519"
install -m 600 "$STATE/id_ed25519.pub" "$STATE/authorized_keys"
if [[ $PORT == 22 ]]; then host="$ADDR"; else host="[$ADDR]:$PORT"; fi
printf '%s %s\n' "$host" "$(cut -d' ' -f1,2 "$STATE/ssh_host_ed25519_key.pub")" >"$STATE/known_hosts.trusted"

# ------------------------------------------------------------------- config
cat >"$STATE/sshd_config.new" <<EOF
# sdtui test VM ($ADDR:$PORT), written by tests/sshd/start.sh
ListenAddress $ADDR:$PORT
HostKey $STATE/ssh_host_ed25519_key
PidFile $STATE/sshd.pid
AuthorizedKeysFile $STATE/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
HostbasedAuthentication no
UsePAM no
StrictModes no
# Needed for the direct-streamlocal channel to /var/run/docker.sock: OpenSSH
# refuses streamlocal unless AllowTcpForwarding is at least "local".
AllowTcpForwarding yes
AllowStreamLocalForwarding yes
StreamLocalBindUnlink yes
AllowAgentForwarding no
X11Forwarding no
PermitTunnel no
PrintMotd no
PrintLastLog no
UseDNS no
MaxStartups 100:30:200
MaxSessions 100
LogLevel VERBOSE
Subsystem sftp internal-sftp
EOF
/usr/sbin/sshd -t -f "$STATE/sshd_config.new" || die "sshd -t rejected $STATE/sshd_config.new"

running_pid() { # the pid of this STATE_DIR's sshd, if it runs
  local pid
  [[ -s $STATE/sshd.pid ]] || return 1
  pid="$(<"$STATE/sshd.pid")"
  [[ $pid =~ ^[0-9]+$ ]] && [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "-f $STATE/sshd_config" || return 1
  printf '%s\n' "$pid"
}

if pid="$(running_pid)"; then
  if cmp -s "$STATE/sshd_config.new" "$STATE/sshd_config"; then
    rm -f "$STATE/sshd_config.new"
    echo "$pid"
    exit 0
  fi
  echo "start.sh: config changed; restarting sshd $pid" >&2
  "$HERE/stop.sh" "$STATE" >/dev/null
fi
mv -f "$STATE/sshd_config.new" "$STATE/sshd_config"
rm -f "$STATE/sshd.pid"

# -E: log to STATE_DIR/sshd.log instead of syslog. sshd daemonises itself and
# writes PidFile once it listens.
/usr/sbin/sshd -f "$STATE/sshd_config" -E "$STATE/sshd.log"

port_open() { (exec 3<>"/dev/tcp/$ADDR/$PORT") 2>/dev/null; }
for _ in $(seq 100); do
  if pid="$(running_pid)" && port_open; then
    echo "$pid"
    exit 0
  fi
  sleep 0.1
done
tail -n 20 "$STATE/sshd.log" >&2 || true
die "sshd did not start listening on $ADDR:$PORT (log: $STATE/sshd.log)"
