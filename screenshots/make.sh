#!/usr/bin/env bash
# Screenshots of the real console in a real terminal: xterm under Xvfb
# showing `sdtui` (driven through tmux so keys can be sent), captured as PNG
# into screenshots/. Deploys a small demo project on the local engine first
# (needs tests/images/build.sh's images). Idempotent; cleans up after itself.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$PWD/screenshots

need=()
command -v Xvfb >/dev/null || need+=(xvfb)
command -v xterm >/dev/null || need+=(xterm)
command -v xwd >/dev/null || need+=(x11-apps)
# A stand-in `convert` may exist: only ImageMagick's will do.
{ convert -version 2>/dev/null | grep -q ImageMagick; } || need+=(imagemagick)
command -v tmux >/dev/null || need+=(tmux)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] || need+=(fonts-dejavu-core)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
# SDTUI_BIN: a binary already built (skips the release build);
# SDTUI_SHOTS_ADDR: the loopback address the demo publishes on.
if [ -z "${SDTUI_BIN:-}" ]; then cargo build --release -q; fi
bin=${SDTUI_BIN:-$PWD/target/release/sdtui}
addr=${SDTUI_SHOTS_ADDR:-127.0.3.71}
./tests/images/build.sh >/dev/null

root=$(mktemp -d)
export SDTUI_ROOT=$root SDTUI_ADDONS=$root/.none SDTUI_CONFIG=$root/.config
display=${SDTUI_SHOTS_DISPLAY:-:97}
# SDTUI_SHOTS=envs: only the Environments pane's pictures (the project is
# not deployed first); SDTUI_SHOTS=doctor, pg or monitor: only the
# doctor's, the Postgres dialog's, or the VMs overlay and live figures.
only=${SDTUI_SHOTS:-all}
session=${SDTUI_SHOTS_SESSION:-shots}
cleanup() {
  tmux kill-session -t "$session" 2>/dev/null || true
  [ -n "${xterm_pid:-}" ] && kill "$xterm_pid" 2>/dev/null || true
  [ -n "${xvfb_pid:-}" ] && kill "$xvfb_pid" 2>/dev/null || true
  "$bin" -p demo env stop staging >/dev/null 2>&1 || true
  # In envs mode demo-local is not this run's: leave it alone.
  local cps="demo-staging-local demo-staging-local-init-1 demo-staging-local-deployment"
  if [ "$only" != envs ]; then
    "$bin" -p demo down >/dev/null 2>&1 || true
    cps="demo-local $cps"
  fi
  for cp in $cps; do
    docker volume ls -q --filter label=com.docker.compose.project=$cp | xargs -r docker volume rm -f >/dev/null
  done
  rm -rf "$root"
}
trap cleanup EXIT

mkdir -p "$root/demo"
cat > "$root/demo/config.yml" <<'YAML'
# demo: what the screenshots show
vms:
  local:
    host: local
    private_ip: ADDR
addons:
  databases:
    primary:
      type: postgres
      plan: standard
    analytics:
      type: postgres
      plan: small
  caches:
    session:
      type: redis
      plan: small
apps:
  web:
    image: sdtui-testapp
    addons:
      - databases.primary
      - addon: databases.analytics
        as: ANALYTICS
        access: readonly
      - caches.session
environments:
  dev:
    variables:
      LOG_LEVEL: debug
  staging:
    addons:
      databases:
        primary:
          plan: small        # an override: the rest is the project's
    variables:
      LOG_LEVEL: info
    init:
      - deploy/migrate.yml
    deployment: deploy/app.yml
YAML
# staging's own files: a migration that must exit 0, then the app.
mkdir -p "$root/demo/deploy"
cat > "$root/demo/deploy/migrate.yml" <<'YAML'
services:
  migrate:
    image: postgres:15
    entrypoint: ["sh", "-c"]
    command:
      - psql "$$URL" -v ON_ERROR_STOP=1 -c "create table if not exists orders (id int)" && echo "migrated ${SDTUI_ENVIRONMENT}"
    environment:
      URL: ${DATABASE_URL}
YAML
cat > "$root/demo/deploy/app.yml" <<'YAML'
services:
  web:
    image: sdtui-testapp:latest
    environment:
      DATABASE_URL: ${DATABASE_URL}
      LOG_LEVEL: ${LOG_LEVEL}
      CHECK_PREFIXES: DATABASE
    healthcheck:
      test: ["CMD", "grep", "-qx", "0", "/tmp/check.rc"]
      interval: 1s
      timeout: 3s
      retries: 60
YAML
sed -i "s/ADDR/$addr/" "$root/demo/config.yml"
[ "$only" = envs ] || "$bin" -p demo up --timeout 180 >/dev/null

Xvfb "$display" -screen 0 1090x640x24 >/dev/null 2>&1 &
xvfb_pid=$!
sleep 1
# Truecolour through tmux, so the theme's colours show as written.
# In the root: an export writes ./export-ENV there, not in the repository.
tmux -f /dev/null new-session -d -s "$session" -c "$root" -x 120 -y 34 "$bin -p demo"
tmux set-option -t "$session" -g default-terminal tmux-256color
tmux set-option -t "$session" -ga terminal-overrides ",xterm*:Tc"
DISPLAY=$display xterm -geometry 120x34+0+0 -fa 'DejaVu Sans Mono' -fs 11 -bg '#1e1e1e' -fg '#d4d4d4' -e tmux attach -t "$session" &
xterm_pid=$!
sleep 3

# Waits (up to $2 s) until the terminal shows $1.
wait_for() {
  for _ in $(seq 1 $(( ${2:-30} * 5 ))); do
    tmux capture-pane -p -t "$session" | grep -qF -- "$1" && return 0
    sleep 0.2
  done
  echo "never saw: $1; the screen:" >&2
  tmux capture-pane -p -t "$session" >&2
  return 1
}
shot() {
  sleep 1.5
  DISPLAY=$display xwd -root -silent | convert xwd:- "$out/$1.png"
  echo "screenshots/$1.png"
}
# Doctor on the Attachments pane (D), with one attachment broken for the
# picture: the analytics readonly role granted a write.
doctor_shot() {
  local pg
  pg=$(docker ps -q --filter label=com.docker.compose.project=demo-local --filter label=com.docker.compose.service=postgres-analytics)
  docker exec "$pg" psql -q -U demo_analytics_user -d demo_analytics -c 'GRANT CREATE ON SCHEMA public TO demo_analytics_readonly'
  tmux send-keys -t "$session" 3 D; wait_for "attachments failed" 120; shot doctor
  docker exec "$pg" psql -q -U demo_analytics_user -d demo_analytics -c 'REVOKE CREATE ON SCHEMA public FROM demo_analytics_readonly'
}
# The Postgres dialog (P on a postgres row): an upgrade's plan, reviewed
# before anything runs.
pg_shot() {
  tmux send-keys -t "$session" 2 g P; sleep 0.5
  tmux send-keys -t "$session" -l 'upgrade 17'; tmux send-keys -t "$session" Enter
  wait_for "y/Enter run" 60; shot pg-upgrade-review
  tmux send-keys -t "$session" Escape; sleep 0.5
}
if [ "$only" = doctor ]; then
  doctor_shot
  tmux send-keys -t "$session" q
  exit 0
fi
# The VMs overlay (V) and the selected addon's live figures.
monitor_shot() {
  tmux send-keys -t "$session" 2 g; wait_for "cpu " 30; shot metrics
  tmux send-keys -t "$session" V; wait_for "compose" 30; shot vms
  tmux send-keys -t "$session" Escape; sleep 0.5
}
if [ "$only" = pg ]; then
  pg_shot
  tmux send-keys -t "$session" q
  exit 0
fi
if [ "$only" = monitor ]; then
  monitor_shot
  tmux send-keys -t "$session" q
  exit 0
fi
if [ "$only" != envs ]; then
tmux send-keys -t "$session" 2; shot addons
tmux send-keys -t "$session" 3; shot attachments
doctor_shot
tmux send-keys -t "$session" 5; shot containers
tmux send-keys -t "$session" 2 Enter; sleep 1; shot logs
# Search the logs: matches highlighted, the view held still.
tmux send-keys -t "$session" / ; tmux send-keys -t "$session" -l 'database system [a-z ]+'; tmux send-keys -t "$session" Enter
shot logs-search
tmux send-keys -t "$session" p; sleep 0.3; tmux send-keys -t "$session" '?'; shot help
tmux send-keys -t "$session" x; sleep 0.3; tmux send-keys -t "$session" 2; sleep 0.3
# The attach wizard: the form, then the engine's plan before anything is written.
tmux send-keys -t "$session" a; sleep 0.5
tmux send-keys -t "$session" Tab Tab; tmux send-keys -t "$session" -l REPORTS; tmux send-keys -t "$session" Tab Right
shot wizard
tmux send-keys -t "$session" Enter; shot wizard-review
tmux send-keys -t "$session" b; sleep 0.3; tmux send-keys -t "$session" Escape; sleep 0.5
# The palette, completing addon names.
tmux send-keys -t "$session" :; tmux send-keys -t "$session" -l 'attach databases.'; shot palette
tmux send-keys -t "$session" Escape; sleep 0.5
# Data safety: a backup and its drill (b), the backups list (B), a
# restore's plan with the name being typed back, a rotation's plan (C).
tmux send-keys -t "$session" 2 g b; wait_for "restore drill passed" 180
tmux send-keys -t "$session" B; wait_for "restore drill passed:"; shot backups
tmux send-keys -t "$session" Enter; wait_for "Type databases.primary to restore it:"
tmux send-keys -t "$session" -l databases.prim; shot restore-review
tmux send-keys -t "$session" Escape; sleep 0.5
tmux send-keys -t "$session" C; wait_for "Enter/y rotate"; shot rotate-review
tmux send-keys -t "$session" Escape; sleep 0.5
pg_shot
monitor_shot
fi
# Environments: staging started from the pane (s), its instances (Enter),
# its configuration (y), what a stop stops (X).
tmux send-keys -t "$session" 4; wait_for " down " 60
tmux send-keys -t "$session" j s; wait_for "env staging: started" 240
sleep 2; shot environments
tmux send-keys -t "$session" Enter; wait_for "env staging · up"; shot env-status
tmux send-keys -t "$session" Escape; sleep 0.3
tmux send-keys -t "$session" y; wait_for "compose project demo-staging-local"; shot env-config
tmux send-keys -t "$session" Escape; sleep 0.3
tmux send-keys -t "$session" X; wait_for "are stopped and removed"; shot env-stop
tmux send-keys -t "$session" n; sleep 0.3
# Its dry-run (D), init's table (i), a restart's y/N (R), export's format
# and the files written (x, c), its logs (l).
tmux send-keys -t "$session" D; wait_for "VARIABLE"; shot env-dry-run
tmux send-keys -t "$session" Escape; sleep 0.3
tmux send-keys -t "$session" i; wait_for "LAST LOG LINES" 120; shot env-init
tmux send-keys -t "$session" Escape; sleep 0.3
tmux send-keys -t "$session" R; wait_for "are restarted in place"; shot env-restart
tmux send-keys -t "$session" n; sleep 0.3
tmux send-keys -t "$session" x; wait_for "export staging as:"; shot env-export
tmux send-keys -t "$session" c; wait_for "docker-compose.yml ("; shot env-export-written
tmux send-keys -t "$session" Escape; sleep 0.3
tmux send-keys -t "$session" l; wait_for "Logs · env-staging"; wait_for " | "; sleep 2; shot env-logs
tmux send-keys -t "$session" Escape; sleep 0.3
tmux send-keys -t "$session" q
