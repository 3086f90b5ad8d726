#!/usr/bin/env bash
# Smoke-test the images build.sh made: run each with the official image's
# environment contract, wait until a client inside the container gets a real
# answer, then run sdtui-testapp against all of them. Prints seconds-to-ready
# and removes every container, volume and network it created.
#
# Usage: smoke.sh [NAME ...]   NAME in: postgres15 postgres17 redis rabbitmq
#                              mariadb memcached caddy testapp (default: all)
set -euo pipefail

RUN="sdtui-smoke-$$"
NET="$RUN"
PASS=0
FAIL=0
RESULTS=()

log() { printf '[smoke %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
ok() { PASS=$((PASS + 1)); RESULTS+=("ok    $*"); log "ok: $*"; }
bad() { FAIL=$((FAIL + 1)); RESULTS+=("FAIL  $*"); log "FAIL: $*"; }

cleanup() {
  local ids
  ids="$(docker ps -aq --filter "label=org.sdtui.smoke=$RUN")"
  [[ -z $ids ]] || docker rm -fv $ids >/dev/null 2>&1 || true
  docker network rm "$NET" >/dev/null 2>&1 || true
  docker volume ls -q --filter "label=org.sdtui.smoke=$RUN" | xargs -r docker volume rm >/dev/null 2>&1 || true
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

run() { # NAME [docker run args...] IMAGE [cmd...]
  local name="$1"; shift
  docker run -d --name "$RUN-$name" --hostname "$name" --network "$NET" --network-alias "$name" \
    --label "org.sdtui.smoke=$RUN" "$@" >/dev/null
}

wait_for() { # TIMEOUT DESC CMD... : poll CMD until it succeeds; prints seconds
  local timeout="$1" desc="$2"; shift 2
  local t0 out; t0="$(now)"
  while ! out="$("$@" 2>&1)"; do
    if awk -v a="$t0" -v b="$(now)" -v t="$timeout" 'BEGIN{exit !(b-a>t)}'; then
      log "timeout waiting for $desc; last output:"; printf '%s\n' "$out" | tail -n 5 >&2; return 1
    fi
    sleep 0.2
  done
  since "$t0"
}

ex() { local c="$1"; shift; docker exec "$RUN-$c" "$@"; }
top_uids() { # CONTAINER [COMM]: the distinct uids of its processes (named COMM)
  docker top "$RUN-$1" -o pid,uid,comm | awk -v c="${2:-}" 'NR>1 && (c=="" || $3==c){print $2}' | sort -u
}
ip_of() { docker inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$RUN-$1"; }

# ----------------------------------------------------------------- postgres
smoke_postgres() { # NAME TAG
  local n="$1" tag="$2" t0 secs
  t0="$(now)"
  run "$n" -e POSTGRES_USER=app -e POSTGRES_PASSWORD='s3cr3t pw' -e POSTGRES_DB=appdb \
    "$tag" postgres -c max_connections=50
  # A TCP pg_isready must not pass before the init is complete.
  local early=""
  while :; do
    if ex "$n" pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
      docker logs "$RUN-$n" 2>&1 | grep >/dev/null 'init process complete' || early=1
      break
    fi
    awk -v a="$t0" -v b="$(now)" 'BEGIN{exit !(b-a>60)}' && { bad "$tag: not ready in 60 s"; return; }
    sleep 0.1
  done
  secs="$(since "$t0")"
  [[ -z $early ]] && ok "$tag: TCP ready only after init (${secs}s first start)" \
                  || bad "$tag: TCP answered before init completed"
  local out
  out="$(ex "$n" env PGPASSWORD='s3cr3t pw' psql -h 127.0.0.1 -U app -d appdb -Atc \
        "select current_user, current_database(), current_setting('max_connections'), current_setting('server_version')")" \
    && [[ $out == app\|appdb\|50\|* ]] && ok "$tag: password login over TCP, db+args ok ($out)" \
    || bad "$tag: psql over TCP gave '$out'"
  # 127.0.0.1 is trusted inside the container (initdb's default, as in the
  # official image); the container's own address goes through scram-sha-256.
  local ip; ip="$(ip_of "$n")"
  ex "$n" env PGPASSWORD=wrong psql -h "$ip" -U app -d appdb -c 'select 1' >/dev/null 2>&1 \
    && bad "$tag: wrong password accepted" || ok "$tag: wrong password refused over the network"
  ex "$n" env PGPASSWORD='s3cr3t pw' psql -h "$ip" -U app -d appdb -c 'select 1' >/dev/null 2>&1 \
    && ok "$tag: right password accepted over the network" || bad "$tag: right password refused over the network"
  ex "$n" sh -c 'id -un; tail -n1 "$PGDATA/pg_hba.conf"' | tr '\n' ' ' | grep >/dev/null "^root host all all all scram-sha-256" \
    && ok "$tag: pg_hba has host all all all scram-sha-256" || bad "$tag: pg_hba line missing"
  [[ $(top_uids "$n" postgres) == "$(ex "$n" id -u postgres)" ]] \
    && ok "$tag: server runs as postgres" || bad "$tag: server user: $(top_uids "$n")"
  # Restart: the volume keeps the data, init is skipped.
  docker restart "$RUN-$n" >/dev/null
  t0="$(now)"
  secs="$(wait_for 60 "$tag restart" ex "$n" env PGPASSWORD='s3cr3t pw' psql -h 127.0.0.1 -U app -d appdb -c 'select 1')" \
    && ok "$tag: ready ${secs}s after restart" || bad "$tag: not ready after restart"
  [[ $(docker logs "$RUN-$n" 2>&1 | grep -c 'Skipping initialization') == 1 ]] \
    && ok "$tag: restart skipped init" || bad "$tag: restart re-ran init?"
  # No password, no trust: refuses to initialise (like the official image).
  docker run --rm --label "org.sdtui.smoke=$RUN" "$tag" >/dev/null 2>&1 \
    && bad "$tag: started without POSTGRES_PASSWORD" || ok "$tag: refuses init without POSTGRES_PASSWORD"
}

# -------------------------------------------------------------------- redis
smoke_redis() {
  local t0 secs
  t0="$(now)"
  run redis redis:7 redis-server --requirepass 'r3d!s'
  secs="$(wait_for 30 redis sh -c "docker exec $RUN-redis redis-cli -a 'r3d!s' --no-auth-warning ping | grep -qx PONG")" \
    && ok "redis:7: PONG with --requirepass after ${secs}s" || { bad "redis:7: no PONG"; return; }
  [[ $(ex redis redis-cli ping 2>&1) == *NOAUTH* ]] && ok "redis:7: unauthenticated ping gets NOAUTH" \
    || bad "redis:7: unauthenticated ping did not get NOAUTH"
  # Without a password, protected mode must not refuse other containers.
  run redis-open redis:7
  sleep 0.2
  secs="$(wait_for 30 redis-open sh -c "docker exec $RUN-redis redis-cli -h redis-open ping | grep -qx PONG")" \
    && ok "redis:7: no password, PONG from another container (protected-mode off), ${secs}s" \
    || bad "redis:7: another container could not PING a password-less redis"
  [[ $(ex redis-open redis-cli config get protected-mode | tail -1) == no ]] && ok "redis:7: protected-mode no" \
    || bad "redis:7: protected-mode is on"
  [[ $(ex redis-open sh -c 'pwd; id -un') == $'/data\nroot' ]] && ok "redis:7: workdir /data, sh available" || bad "redis:7: workdir/sh"
  [[ $(top_uids redis) == "$(ex redis id -u redis)" ]] \
    && ok "redis:7: server runs as redis" || bad "redis:7: server user"
}

# ----------------------------------------------------------------- rabbitmq
smoke_rabbitmq() {
  local t0 secs out
  t0="$(now)"
  run rabbitmq -e RABBITMQ_DEFAULT_USER=mq -e RABBITMQ_DEFAULT_PASS='mq pw#1' -e RABBITMQ_DEFAULT_VHOST=app \
    rabbitmq:3-management
  secs="$(wait_for 90 "rabbitmq ping" ex rabbitmq rabbitmq-diagnostics -q ping)" \
    && ok "rabbitmq: rabbitmq-diagnostics ping after ${secs}s" || { bad "rabbitmq: no ping"; docker logs "$RUN-rabbitmq" 2>&1 | tail -20; return; }
  secs="$(wait_for 90 "rabbitmq user" ex rabbitmq rabbitmqctl -q authenticate_user mq 'mq pw#1')" \
    && ok "rabbitmq: user mq authenticates after $(since "$t0")s total" || bad "rabbitmq: user mq never authenticated"
  out="$(ex rabbitmq rabbitmqctl -q list_vhosts 2>/dev/null | tr '\n' ' ')"
  [[ " $out " == *" app "* ]] && ok "rabbitmq: vhost app exists ($out)" || bad "rabbitmq: vhosts: $out"
  # 'mq pw#1' cannot live in rabbitmq.conf (# starts a comment): advanced.config.
  out="$(ex rabbitmq stat -c '%a %U' /etc/rabbitmq/advanced.config)"
  [[ $out == "600 rabbitmq" ]] && ok "rabbitmq: '#' password went to advanced.config, 0600 rabbitmq" || bad "rabbitmq: advanced.config perms $out"
  # A plain password goes to conf.d.
  run rabbitmq2 -e RABBITMQ_DEFAULT_USER=u2 -e RABBITMQ_DEFAULT_PASS='plain pw' rabbitmq:3-management
  secs="$(wait_for 90 "rabbitmq2 user" ex rabbitmq2 rabbitmqctl -q authenticate_user u2 'plain pw')" \
    && ok "rabbitmq: conf.d path: user u2 authenticates (${secs}s from its start)" || bad "rabbitmq: conf.d path user"
  out="$(ex rabbitmq2 stat -c '%a %U' /etc/rabbitmq/conf.d/20-default-user.conf)"
  [[ $out == "600 rabbitmq" ]] && ok "rabbitmq: conf.d/20-default-user.conf is 0600 rabbitmq" || bad "rabbitmq: conf perms $out"
  local ip; ip="$(ip_of rabbitmq)"
  secs="$(wait_for 60 "management api" curl -sf -u 'mq:mq pw#1' "http://$ip:15672/api/overview")" \
    && ok "rabbitmq: management API on 15672 answers ($(curl -s -u 'mq:mq pw#1' "http://$ip:15672/api/overview" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["rabbitmq_version"], d["node"])'))" \
    || bad "rabbitmq: management API"
  docker logs "$RUN-rabbitmq" 2>&1 | grep >/dev/null 'Server startup complete' \
    && ok "rabbitmq: logs on stdout" || bad "rabbitmq: no startup log on stdout"
}

# ------------------------------------------------------------------ mariadb
smoke_mariadb() {
  local t0 secs out
  t0="$(now)"
  run mariadb -e MARIADB_ROOT_PASSWORD='r00t' -e MARIADB_USER=maria -e MARIADB_PASSWORD="it's" \
    -e MARIADB_DATABASE=shop mariadb:10.11
  secs="$(wait_for 90 mariadb ex mariadb mariadb-admin ping -h 127.0.0.1 -u maria "-pit's")" \
    && ok "mariadb:10.11: mariadb-admin ping over TCP after ${secs}s" || { bad "mariadb: no ping"; docker logs "$RUN-mariadb" 2>&1 | tail; return; }
  out="$(ex mariadb mariadb -h 127.0.0.1 -u maria "-pit's" shop -N -e 'select current_user(), database(), @@bind_address, version()' | tr '\t' ' ')"
  [[ $out == "maria@% shop 0.0.0.0 10.11"* ]] && ok "mariadb:10.11: user/db over TCP ($out)" || bad "mariadb: query gave '$out'"
  out="$(ex mariadb mysql -h 127.0.0.1 -uroot -pr00t -N -e "select count(*) from mysql.user where user='root'")"
  ok "mariadb:10.11: root over TCP with password, mysql client alias (root accounts: $out)"
  ex mariadb mariadb -h 127.0.0.1 -uroot -pwrong -e 'select 1' >/dev/null 2>&1 && bad "mariadb: wrong pw accepted" \
    || ok "mariadb:10.11: wrong password refused"
  # MYSQL_* names work too.
  run mysqlenv -e MYSQL_ROOT_PASSWORD=x -e MYSQL_DATABASE=d2 -e MYSQL_USER=u2 -e MYSQL_PASSWORD=p2 mariadb:10.11
  secs="$(wait_for 90 mysqlenv ex mysqlenv mariadb -h 127.0.0.1 -uu2 -pp2 d2 -e 'select 1')" \
    && ok "mariadb:10.11: MYSQL_* variables honoured (${secs}s)" || bad "mariadb: MYSQL_* variables"
  docker restart "$RUN-mariadb" >/dev/null
  secs="$(wait_for 60 "mariadb restart" ex mariadb mariadb -h 127.0.0.1 -u maria "-pit's" shop -e 'select 1')" \
    && ok "mariadb:10.11: ready ${secs}s after restart" || bad "mariadb: restart"
  docker logs "$RUN-mariadb" 2>&1 | grep >/dev/null 'Skipping initialization' && ok "mariadb:10.11: restart skipped init" || bad "mariadb: restart re-init"
}

# ---------------------------------------------------------------- memcached
smoke_memcached() {
  local secs
  run memcached memcached:1.6
  secs="$(wait_for 30 memcached ex memcached bash -c 'exec 3<>/dev/tcp/127.0.0.1/11211; printf "version\r\n" >&3; read -r l <&3; [[ $l == VERSION* ]]')" \
    && ok "memcached:1.6: answers version after ${secs}s" || { bad "memcached: no answer"; return; }
  local ip; ip="$(ip_of memcached)"
  out="$(ex memcached bash -c "exec 3<>/dev/tcp/$ip/11211; printf 'version\r\n' >&3; read -r l <&3; echo \$l")"
  [[ $out == VERSION* ]] && ok "memcached:1.6: listens on the container address ($ip: $out)" || bad "memcached: not on $ip"
  [[ $(top_uids memcached) == "$(ex memcached id -u memcache)" ]] \
    && ok "memcached:1.6: runs as memcache" || bad "memcached: user"
}

# -------------------------------------------------------------------- caddy
smoke_caddy() {
  local secs ip
  run caddy caddy:2
  ip="$(ip_of caddy)"
  secs="$(wait_for 30 caddy sh -c "curl -sf http://$ip/ | grep -q 'Caddy works'")" \
    && ok "caddy:2: serves the default page on :80 after ${secs}s ($(ex caddy caddy version | cut -d' ' -f1))" || bad "caddy: no page"
  # A mounted Caddyfile.
  local dir; dir="$(mktemp -d)"
  printf ':80 {\n\trespond "custom %s" 200\n}\n' '{http.request.host}' >"$dir/Caddyfile"
  run caddy2 -v "$dir/Caddyfile:/etc/caddy/Caddyfile:ro" caddy:2
  ip="$(ip_of caddy2)"
  secs="$(wait_for 30 caddy2 sh -c "curl -sf http://$ip/ | grep -q custom")" \
    && ok "caddy:2: mounted /etc/caddy/Caddyfile honoured (${secs}s)" || bad "caddy: mounted Caddyfile"
  rm -rf "$dir"
}

# ------------------------------------------------------------------ testapp
smoke_testapp() {
  # Needs postgres15, redis (with pw), rabbitmq, mariadb, memcached, caddy running.
  local pg="$RUN-postgres15"
  docker exec -i "$pg" env PGPASSWORD='s3cr3t pw' psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U app -d appdb >/dev/null <<'SQL'
CREATE TABLE IF NOT EXISTS items (id int);
CREATE ROLE reader LOGIN PASSWORD 'ro';
GRANT CONNECT ON DATABASE appdb TO reader;
GRANT USAGE ON SCHEMA public TO reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader;
SQL
  local t0; t0="$(now)"
  run app -e CHECK_PREFIXES=DATABASE,ANALYTICS,CACHE,QUEUE,SHOP,MEMO,WEB \
    -e 'DATABASE_URL=postgresql://app:s3cr3t%20pw@postgres15:5432/appdb' \
    -e 'ANALYTICS_URL=postgresql://reader:ro@postgres15:5432/appdb' -e ANALYTICS_READONLY=true \
    -e 'CACHE_URL=redis://:r3d%21s@redis:6379/0' \
    -e 'QUEUE_URL=amqp://mq:mq%20pw%231@rabbitmq:5672/app' \
    -e "SHOP_URL=mysql://maria:it's@mariadb:3306/shop" \
    -e 'MEMO_URL=memcached://memcached:11211' \
    -e 'WEB_URL=http://caddy/' \
    sdtui-testapp:latest
  if wait_for 120 "testapp check" ex app test -s /tmp/check.rc >/dev/null; then
    docker logs "$RUN-app" 2>&1 | sed 's/^/    /' >&2
    [[ $(ex app cat /tmp/check.rc) == 0 ]] && ok "testapp: all 7 prefixes ok in container logs ($(since "$t0")s)" \
      || bad "testapp: check.py failed"
  else
    bad "testapp: check never finished"; docker logs "$RUN-app" 2>&1 | tail >&2
  fi
  # docker exec works too, and a failure is reported with a non-zero status.
  local out rc=0
  out="$(docker exec -e CHECK_PREFIXES=CACHE -e 'CACHE_URL=redis://:wrong@redis:6379/0' "$RUN-app" check 2>&1)" || rc=$?
  [[ $rc == 1 && $out == *'"ok": false'* ]] && ok "testapp: wrong redis password -> ok:false, exit 1 ($out)" \
    || bad "testapp: wrong password gave rc=$rc: $out"
  rc=0
  out="$(docker exec -e CHECK_PREFIXES=ANALYTICS -e 'ANALYTICS_URL=postgresql://app:s3cr3t%20pw@postgres15:5432/appdb' \
        -e ANALYTICS_READONLY=true "$RUN-app" check 2>&1)" || rc=$?
  [[ $rc == 1 ]] && ok "testapp: READONLY with a writable role is reported as failure" || bad "testapp: rc=$rc $out"
  t0="$(now)"
  docker stop "$RUN-app" >/dev/null
  ok "testapp: docker stop took $(since "$t0")s"
}

# --------------------------------------------------------------------- main
ALL=(postgres15 postgres17 redis rabbitmq mariadb memcached caddy testapp)
WANT=("$@")
((${#WANT[@]})) || WANT=("${ALL[@]}")
want() { local w; for w in "${WANT[@]}"; do [[ $w == "$1" ]] && return 0; done; return 1; }
command -v curl >/dev/null || { log "curl is needed"; exit 1; }

docker network create --label "org.sdtui.smoke=$RUN" "$NET" >/dev/null
want postgres15 && smoke_postgres postgres15 postgres:15
want postgres17 && smoke_postgres postgres17 postgres:17
want redis && smoke_redis
want rabbitmq && smoke_rabbitmq
want mariadb && smoke_mariadb
want memcached && smoke_memcached
want caddy && smoke_caddy
if want testapp; then
  for dep in postgres15 redis rabbitmq mariadb memcached caddy; do
    want "$dep" || { log "testapp needs $dep in the same run; skipping"; dep=""; break; }
  done
  [[ -n ${dep:-} ]] && smoke_testapp
fi

echo
printf '%s\n' "${RESULTS[@]}"
echo "passed: $PASS  failed: $FAIL"
((FAIL == 0))
