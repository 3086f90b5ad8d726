# --- the same for every type (src/engine/backup_service.sh) ---
set -u
umask 077
log() { echo "sdtui-backup $(date -u +%Y-%m-%dT%H:%M:%SZ) $ADDON: $*"; }
# Files are given to the owner of the backups folder (the VM's user), so
# sdtui reads, restores and pulls them without root.
owner=$(stat -c %u:%g "$DIR")
own() { chown "$owner" "$@" 2>/dev/null || true; }
esc() { printf '%s' "$1" | tr '\n\r\t' '   ' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'; }
# Inventory lines `kind<TAB>name<TAB>value`, as a JSON object's members.
inv_json() {
  awk -F'\t' 'function e(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return s }
    $1 != "" && $1 != "snapshot" && $0 != "." { if (n++) printf ","; v = $3; sub(/[ \r]+$/, "", v); printf "\"%s %s\":\"%s\"", e($1), e($2), e(v) }' "$1"
}
# The inventory without the snapshot and end lines, sorted, for comparing.
inv_norm() {
  awk -F'\t' '$1 != "" && $1 != "snapshot" && $0 != "." { v = $3; sub(/[ \r]+$/, "", v); print $1 "\t" $2 "\t" v }' "$1" | sort
}
in_list() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }
# Whether the schedule fires this minute (UTC). As in cron, when both day
# fields are restricted a day matching either one fires.
due() {
  set -- $(date -u '+%M %H %d %m %w')
  m=${1#0} h=${2#0} d=${3#0} mo=${4#0} w=$5
  in_list "$m" "$MINUTES" && in_list "$h" "$HOURS" && in_list "$mo" "$MONTHS" || return 1
  if [ "$DAYS_ANY" = 1 ] || [ "$WEEKDAYS_ANY" = 1 ]; then
    in_list "$d" "$DAYS" && in_list "$w" "$WEEKDAYS"
  else
    in_list "$d" "$DAYS" || in_list "$w" "$WEEKDAYS"
  fi
}
status() {
  printf '{"at":"%s","outcome":"%s","id":"%s","detail":"%s"}\n' "$created" "$1" "$id" "$(esc "$2")" > "$DIR/.schedule-status.tmp" \
    && own "$DIR/.schedule-status.tmp" && mv "$DIR/.schedule-status.tmp" "$DIR/.schedule-status"
}
manifest() {
  # $1 drill status, $2 detail, $3 checked, $4 seconds
  detail=""
  [ -n "$2" ] && detail=",\"detail\":\"$(esc "$2")\""
  after=""
  [ -s "$W/after.json" ] && after=",\"inventory_after\":{$(cat "$W/after.json")}"
  printf '%s,"id":"%s","file":"%s","created":"%s","size":%s,"sha256":"%s","dump_seconds":%s,"inventory":{%s}%s,"drill":{"status":"%s"%s,"checked":%s,"seconds":%s},"trigger":"schedule"}\n' \
    "$MANIFEST_HEAD" "$id" "$file" "$created" "$size" "$sum" "$dump_seconds" "$(inv_json "$W/inv")" "$after" "$1" "$detail" "$3" "$4" > "$DIR/.$id.json.tmp" \
    && own "$DIR/.$id.json.tmp" && mv "$DIR/.$id.json.tmp" "$DIR/$id.json"
}
cleanup() {
  [ -n "${tmp:-}" ] && rm -f "$tmp"
  [ -n "${W:-}" ] && rm -rf "$W"
  (drill_env; drill_stop) >/dev/null 2>&1
  rm -rf "$DRILL_DIR"
}
fail() {
  log "FAILED: $1"
  rm -f "$tmp"
  status failed "$1"
}
tail_of() { tail -c 400 "$1" 2>/dev/null | tr '\n' ' '; }

# Only good scheduled backups count toward KEEP; failed and manual ones
# stay until removed by hand.
prune() {
  good=$(grep -l '"trigger":"schedule"' "$DIR"/*.json 2>/dev/null | xargs -r grep -l '"drill":{"status":"passed"' | sort)
  n=$(printf '%s\n' "$good" | grep -c .)
  excess=$((n - KEEP))
  [ "$excess" -gt 0 ] || return 0
  printf '%s\n' "$good" | head -n "$excess" | while IFS= read -r m; do
    old=$(basename "$m" .json)
    rm -f "$DIR/$old.$EXT" "$m" && log "retention: removed $old"
  done
}

drill() {
  rm -rf "$DRILL_DIR" && mkdir -p "$DRILL_DIR" || { drill_detail="cannot make $DRILL_DIR"; return; }
  export SDTUI_BACKUP="$DIR/$file"
  if ! (drill_env; drill_start) > "$W/drill.log" 2>&1; then
    drill_detail="the drill server did not start: $(tail_of "$W/drill.log")"
    return
  fi
  n=0
  until (drill_env; drill_ready) >/dev/null 2>&1; do
    n=$((n + 1))
    if [ "$n" -ge 240 ]; then drill_detail="the drill server was not ready within 120 s"; return; fi
    sleep 0.5
  done
  if [ "$RESTORE_BY_COMMAND" = 1 ] && ! (drill_env; restore_cmd) < "$DIR/$file" > "$W/restore.log" 2>&1; then
    drill_detail="the restore failed: $(tail_of "$W/restore.log")"
    return
  fi
  [ "$HAS_INVENTORY" = 1 ] || return 0
  if ! (drill_env; inventory_input | inventory_cmd) > "$W/restored" 2> "$W/restored.err"; then
    drill_detail="the inventory of the restored copy failed: $(tail_of "$W/restored.err")"
    return
  fi
  inv_norm "$W/inv" > "$W/a"
  inv_norm "$W/restored" > "$W/b"
  checked=$(wc -l < "$W/a")
  cmp -s "$W/a" "$W/b" && return 0
  # A count that changed between the readings before and after the dump
  # may be either.
  if [ -s "$W/inv.after" ]; then inv_norm "$W/inv.after" > "$W/c"; cmp -s "$W/c" "$W/b" && return 0; fi
  was=$(comm -23 "$W/a" "$W/b" | head -n 1 | tr '\t' ' ')
  now=$(comm -13 "$W/a" "$W/b" | head -n 1 | tr '\t' ' ')
  drill_detail="the source had \"${was:-nothing more}\" at dump time, the restored copy \"${now:-nothing more}\""
}

run_once() {
  set -- $(date -u '+%Y-%m-%dT%H:%M:%SZ %Y%m%dT%H%M%SZ')
  created=$1 id="$INSTANCE-$2"
  file="$id.$EXT"
  tmp="$DIR/.$file.scheduled-partial"
  size=0 sum="" dump_seconds=0
  W=$(mktemp -d) || { tmp=""; status failed "cannot make a work folder"; return; }
  : > "$W/inv"
  log "backup $id"
  t0=$(date +%s)
  if [ "$HOLD" = 1 ]; then
    # One transaction holds its snapshot open while the dump reads it.
    mkfifo "$W/in"
    inventory_cmd < "$W/in" > "$W/inv" 2> "$W/inv.err" &
    ipid=$!
    exec 3> "$W/in"
    inventory_input >&3
    n=0
    until grep -qx '\.' "$W/inv"; do
      if ! kill -0 "$ipid" 2>/dev/null || [ "$n" -ge 3000 ]; then
        exec 3>&-
        fail "the inventory of the source failed: $(tail_of "$W/inv.err")"
        rm -rf "$W"; return
      fi
      n=$((n + 1)); sleep 0.2
    done
    SNAPSHOT=$(awk -F'\t' '$1 == "snapshot" { print $2 }' "$W/inv")
    dump_cmd > "$tmp" 2> "$W/dump.err"; rc=$?
    exec 3>&-
    wait "$ipid"
  else
    if ! inventory_input | inventory_cmd > "$W/inv" 2> "$W/inv.err"; then
      fail "the inventory of the source failed: $(tail_of "$W/inv.err")"
      rm -rf "$W"; return
    fi
    dump_cmd > "$tmp" 2> "$W/dump.err"; rc=$?
    inventory_input | inventory_cmd > "$W/inv.after" 2>/dev/null
    if ! cmp -s "$W/inv" "$W/inv.after" && [ -s "$W/inv.after" ]; then inv_json "$W/inv.after" > "$W/after.json"; fi
  fi
  if [ "$rc" != 0 ]; then
    fail "the dump failed (exit $rc); earlier backups are kept: $(tail_of "$W/dump.err")"
    rm -rf "$W"; return
  fi
  if [ "$FAULT" = truncate ]; then
    half=$(( $(wc -c < "$tmp") / 2 ))
    head -c "$half" "$tmp" > "$tmp.cut" && mv "$tmp.cut" "$tmp"
  fi
  size=$(wc -c < "$tmp")
  sum=$(sha256sum < "$tmp" | cut -d ' ' -f 1)
  if ! mv "$tmp" "$DIR/$file"; then
    fail "cannot keep the dump (disk full?)"
    rm -rf "$W"; return
  fi
  own "$DIR/$file"
  dump_seconds=$(( $(date +%s) - t0 ))
  manifest "not run" "" 0 0
  log "dumped $size bytes; drilling"
  d0=$(date +%s)
  drill_detail="" checked=0
  drill
  (drill_env; drill_stop) >/dev/null 2>&1
  rm -rf "$DRILL_DIR"
  seconds=$(( $(date +%s) - d0 ))
  if [ -z "$drill_detail" ]; then
    manifest passed "" "$checked" "$seconds" || { fail "cannot write the manifest"; rm -rf "$W"; return; }
    status ok ""
    log "drill passed ($checked checked)"
    prune
  else
    manifest failed "$drill_detail" "$checked" "$seconds"
    status failed "the drill of $id failed: $drill_detail"
    log "drill FAILED: $drill_detail"
  fi
  rm -rf "$W"
  tmp="" W=""
}

trap 'cleanup; exit 0' TERM INT
rm -f "$DIR"/.*.scheduled-partial
rm -rf "$DRILL_DIR"
log "waiting for the schedule \"$CRON\" (UTC), keeping $KEEP good backups"
last=""
while :; do
  key=$(date -u +%Y%m%d%H%M)
  if [ "$key" != "$last" ] && due; then
    last=$key
    run_once
  fi
  s=$(date -u +%S)
  sleep $((61 - ${s#0})) &
  wait $!
done
