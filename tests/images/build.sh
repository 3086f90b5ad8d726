#!/usr/bin/env bash
# Build local stand-ins for the registry images the integration tests use
# (postgres:15, postgres:17, redis:7, rabbitmq:3-management, mariadb:10.11,
# memcached:1.6, caddy:2) plus sdtui-testapp:latest, with no registry:
#
#   debootstrap --variant=minbase (Debian mirror apt already uses)
#     -> base-SUITE.tar                  (cached, one per suite)
#     -> rootfs-NAME-KEY.tar             (cached, base + the service's packages)
#     -> docker import sdtui-rootfs:NAME-KEY
#     -> docker build (legacy builder) tests/images/DIR -> TAG
#
# An image is rebuilt only when `docker image inspect TAG` fails, or when it
# was built by this script from a different recipe (label org.sdtui.recipe:
# hash of the packages script, Dockerfile, entrypoint ...). An image with
# the tag that this script did not build (an official one pulled on a dev
# machine) is left alone.
#
# Usage: build.sh [--force] [--refresh] [--list] [NAME|TAG ...]
#   --force    rebuild the images from the cached rootfs tarballs (fresh
#              docker import, docker build --no-cache)
#   --refresh  also re-run debootstrap/apt (new tarballs; implies --force)
#   --list     print the known images and exit
#   NAME|TAG   build only these (e.g. redis-7 or redis:7); default: all
# Environment:
#   SDTUI_IMAGE_CACHE             cache dir (default /var/cache/sdtui-images)
#   SDTUI_DEBIAN_MIRROR           default: the Debian URI in apt's sources
#   SDTUI_DEBIAN_SECURITY_MIRROR  default: the debian-security URI in apt's sources
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${SDTUI_IMAGE_CACHE:-/var/cache/sdtui-images}"
export DOCKER_BUILDKIT=0
RECIPE_LABEL=org.sdtui.recipe
# Bump to invalidate every cached tarball and image (changes to this script's
# rootfs recipe).
RECIPE_VERSION=1

# name | tag | suite | context dir | build args (space separated K=V)
IMAGES=(
  "postgres-15|postgres:15|bookworm|postgres|PG_MAJOR=15"
  "postgres-17|postgres:17|trixie|postgres|PG_MAJOR=17"
  "redis-7|redis:7|bookworm|redis|"
  "rabbitmq-3|rabbitmq:3-management|bookworm|rabbitmq|"
  "mariadb-10.11|mariadb:10.11|bookworm|mariadb|"
  "memcached-1.6|memcached:1.6|bookworm|memcached|"
  "caddy-2|caddy:2|bookworm|caddy|"
  "testapp|sdtui-testapp:latest|bookworm|testapp|"
)

FORCE=0
REFRESH=0
SELECTED=()

log() { printf '[build.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while (($#)); do
  case "$1" in
    --force) FORCE=1 ;;
    --refresh) REFRESH=1; FORCE=1 ;;
    --list)
      for spec in "${IMAGES[@]}"; do IFS='|' read -r n t s _ _ <<<"$spec"; printf '%-14s %-24s %s\n' "$n" "$t" "$s"; done
      exit 0 ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) SELECTED+=("$1") ;;
  esac
  shift
done

[[ $(id -u) == 0 ]] || die "must run as root (debootstrap, chroot, mount)"

# ---------------------------------------------------------------- host tools
APT_UPDATED=0
apt_install() {
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  log "installing on the host: ${missing[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
    ((APT_UPDATED)) && die "apt-get install ${missing[*]} failed"
    apt-get update -q >/dev/null
    APT_UPDATED=1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

command -v docker >/dev/null || die "docker CLI not found"
docker info >/dev/null 2>&1 || die "cannot talk to the Docker engine"
command -v flock >/dev/null || apt_install util-linux

# -------------------------------------------------------------------- lock
mkdir -p "$CACHE" "$CACHE/logs"
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
  log "another build.sh holds $CACHE/.lock; waiting"
  flock 9
fi

# ------------------------------------------------------------------ mirrors
# The first Debian archive / debian-security URI found in apt's sources.
apt_uris() {
  {
    grep -hsiE '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources | sed -E 's/^[[:space:]]*URIs:[[:space:]]*//I' | tr ' ' '\n'
    grep -hsE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
      | sed -E 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' | awk '{print $1}'
  } | sed -E 's#/+$##' | grep -v '^$' || true
}
MIRROR="${SDTUI_DEBIAN_MIRROR:-$(apt_uris | grep -E '/debian$' | head -n1)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${SDTUI_DEBIAN_SECURITY_MIRROR:-$(apt_uris | grep -E '/debian-security$' | head -n1)}"
SECURITY_MIRROR="${SECURITY_MIRROR:-http://deb.debian.org/debian-security}"

# ---------------------------------------------------------- temp + cleanup
TMPDIRS=()
cleanup() {
  local d
  for d in "${TMPDIRS[@]}"; do
    [[ -d $d ]] || continue
    umount_under "$d" || true
    if findmnt -rno TARGET | grep -q "^$d/"; then
      log "warning: something is still mounted under $d; not removing it"
    else
      rm -rf --one-file-system "$d"
    fi
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

umount_under() { # DIR: unmount everything mounted below DIR, deepest first
  local m
  { findmnt -rno TARGET | grep "^$1/" || true; } | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
}

TMPD=""
new_tmpdir() { # PREFIX -> sets TMPD (removed on exit); no $(...): the list must survive
  TMPD="$(mktemp -d "$CACHE/tmp.$1.XXXXXX")"
  TMPDIRS+=("$TMPD")
}

hash_str() { sha256sum | cut -c1-16; }
hash_dir() { # DIR: content + mode of every file
  (cd "$1" && find . -type f -printf '%m %p\n' | LC_ALL=C sort && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | hash_str
}

# ------------------------------------------------------------- base rootfs
declare -A BASE_DONE=()
BASE_TAR=""
base_tar() { # SUITE -> sets BASE_TAR to base-SUITE.tar (built if missing)
  local suite="$1" tar="$CACHE/base-$1.tar"
  BASE_TAR="$tar"
  if [[ -s $tar && ( $REFRESH == 0 || -n ${BASE_DONE[$suite]:-} ) ]]; then
    return
  fi
  apt_install debootstrap debian-archive-keyring
  local root t0=$SECONDS logf="$CACHE/logs/debootstrap-$suite.log"
  new_tmpdir "base-$suite"; root="$TMPD"
  log "debootstrap --variant=minbase $suite from $MIRROR (log: $logf)"
  if ! debootstrap --variant=minbase --components=main "$suite" "$root" "$MIRROR" >"$logf" 2>&1; then
    tail -n 20 "$logf" >&2
    die "debootstrap $suite failed"
  fi
  umount_under "$root"
  # apt sources: the suite, its updates and its security archive.
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # The same slimming as Debian's official docker images.
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker-excludes" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  cat >"$root/etc/apt/apt.conf.d/docker-no-recommends" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOF
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::GzipIndexes "true";
EOF
  printf '#!/bin/sh\n# no service starts inside images\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
         "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
         "$root"/var/log/bootstrap.log "$root"/var/log/apt/* "$root"/var/log/dpkg.log
  : >"$root/etc/resolv.conf"
  tar --numeric-owner --xattrs -C "$root" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
      -cf "$tar.part" .
  mv -f "$tar.part" "$tar"
  BASE_DONE[$suite]=1
  log "base $suite: $(du -h "$tar" | cut -f1) in $((SECONDS - t0)) s"
}

# --------------------------------------------------------- service rootfs
rootfs_key() { # SUITE DIR ARGS
  { echo "v$RECIPE_VERSION $1 $3 $MIRROR $SECURITY_MIRROR"; cat "$HERE/$2/packages.sh"; } | hash_str
}

declare -A ROOTFS_DONE=()
ROOTFS_TAR=""
rootfs_tar() { # NAME SUITE DIR ARGS -> sets ROOTFS_TAR (built if missing)
  local name="$1" suite="$2" dir="$3" args="$4" key tar
  key="$(rootfs_key "$suite" "$dir" "$args")"
  tar="$CACHE/rootfs-$name-$key.tar"
  ROOTFS_TAR="$tar"
  if [[ -s $tar && ( $REFRESH == 0 || -n ${ROOTFS_DONE[$tar]:-} ) ]]; then
    return
  fi
  local base root t0=$SECONDS logf="$CACHE/logs/rootfs-$name.log"
  base_tar "$suite"; base="$BASE_TAR"
  t0=$SECONDS
  new_tmpdir "rootfs-$name"; root="$TMPD"
  log "rootfs $name: base-$suite + packages.sh (log: $logf)"
  tar --numeric-owner --xattrs -C "$root" -xf "$base"
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  install -m 0644 "$HERE/$dir/packages.sh" "$root/tmp/packages.sh"
  mount -t proc proc "$root/proc"
  mount -t sysfs sysfs "$root/sys"
  mount --bind /dev "$root/dev"
  local -a envv=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
                 LANG=C.UTF-8 HOME=/root DEBIAN_FRONTEND=noninteractive)
  local kv
  for kv in $args; do envv+=("$kv"); done
  if ! chroot "$root" /usr/bin/env -i "${envv[@]}" /bin/sh -ec '
        apt-get update -q
        sh -ex /tmp/packages.sh
        apt-get clean
        rm -rf /var/lib/apt/lists/* /tmp/packages.sh /var/log/apt/* /var/log/dpkg.log /var/cache/debconf/*-old
      ' >"$logf" 2>&1; then
    tail -n 30 "$logf" >&2
    die "installing packages for $name failed"
  fi
  umount_under "$root"
  : >"$root/etc/resolv.conf"
  tar --numeric-owner --xattrs -C "$root" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
      -cf "$tar.part" .
  mv -f "$tar.part" "$tar"
  # Older tarballs of this image are of no further use.
  find "$CACHE" -maxdepth 1 -name "rootfs-$name-*.tar" ! -name "rootfs-$name-$key.tar" -delete
  ROOTFS_DONE[$tar]=1
  log "rootfs $name: $(du -h "$tar" | cut -f1) in $((SECONDS - t0)) s"
}

# ------------------------------------------------------------------ images
image_recipe() { # NAME SUITE DIR ARGS
  { echo "v$RECIPE_VERSION $1 $2 $4"; rootfs_key "$2" "$3" "$4"; hash_dir "$HERE/$3"; } | hash_str
}

SUMMARY=()
build_one() { # NAME TAG SUITE DIR ARGS
  local name="$1" tag="$2" suite="$3" dir="$4" args="$5"
  local t0=$SECONDS recipe have old_id=""
  [[ -f $HERE/$dir/Dockerfile && -f $HERE/$dir/packages.sh ]] || die "$HERE/$dir lacks Dockerfile or packages.sh"
  recipe="$(image_recipe "$name" "$suite" "$dir" "$args")"
  if docker image inspect "$tag" >/dev/null 2>&1; then
    have="$(docker image inspect -f "{{index .Config.Labels \"$RECIPE_LABEL\"}}" "$tag" 2>/dev/null || true)"
    [[ $have == '<no value>' ]] && have=""
    old_id="$(docker image inspect -f '{{.Id}}' "$tag")"
    if ((FORCE == 0)); then
      if [[ -z $have ]]; then
        log "$tag exists and was not built by this script; reusing it"
        SUMMARY+=("$tag|reused (foreign)|0|$(image_size "$tag")"); return
      elif [[ $have == "$recipe" ]]; then
        SUMMARY+=("$tag|reused|0|$(image_size "$tag")"); return
      fi
      log "$tag: recipe changed ($have -> $recipe); rebuilding"
    fi
  fi
  local tar key rootfs_tag
  rootfs_tar "$name" "$suite" "$dir" "$args"; tar="$ROOTFS_TAR"
  key="$(rootfs_key "$suite" "$dir" "$args")"
  rootfs_tag="sdtui-rootfs:$name-$key"
  if ((FORCE)) || ! docker image inspect "$rootfs_tag" >/dev/null 2>&1; then
    log "docker import $tar -> $rootfs_tag"
    docker import \
      -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      -c 'ENV LANG=C.UTF-8' \
      -c 'CMD ["bash"]' \
      "$tar" "$rootfs_tag" >/dev/null
    # Untag imports of older recipes of this image.
    docker image ls --format '{{.Repository}}:{{.Tag}}' sdtui-rootfs | grep "^sdtui-rootfs:$name-" \
      | grep -vx "$rootfs_tag" | xargs -r docker rmi >/dev/null 2>&1 || true
  fi
  local -a bargs=(--build-arg "BASE=$rootfs_tag")
  local kv
  for kv in $args; do bargs+=(--build-arg "$kv"); done
  log "docker build $tag from tests/images/$dir"
  local logf="$CACHE/logs/docker-build-$name.log"
  ((FORCE)) && bargs+=(--no-cache)
  if ! docker build --pull=false --rm --force-rm "${bargs[@]}" \
        --label "$RECIPE_LABEL=$recipe" -t "$tag" "$HERE/$dir" >"$logf" 2>&1; then
    tail -n 30 "$logf" >&2
    die "docker build $tag failed"
  fi
  local new_id
  new_id="$(docker image inspect -f '{{.Id}}' "$tag")"
  if [[ -n $old_id && $old_id != "$new_id" ]]; then
    docker rmi "$old_id" >/dev/null 2>&1 || true  # fails harmlessly if still in use
  fi
  SUMMARY+=("$tag|built|$((SECONDS - t0))|$(image_size "$tag")")
}

image_size() { docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%d MB", $1/1000000}'; }

selected() { # NAME TAG
  ((${#SELECTED[@]})) || return 0
  local s
  for s in "${SELECTED[@]}"; do [[ $s == "$1" || $s == "$2" ]] && return 0; done
  return 1
}

T0=$SECONDS
for s in "${SELECTED[@]}"; do
  found=0
  for spec in "${IMAGES[@]}"; do IFS='|' read -r n t _ _ _ <<<"$spec"; [[ $s == "$n" || $s == "$t" ]] && found=1; done
  ((found)) || die "unknown image $s (see --list)"
done
for spec in "${IMAGES[@]}"; do
  IFS='|' read -r name tag suite dir args <<<"$spec"
  selected "$name" "$tag" || continue
  build_one "$name" "$tag" "$suite" "$dir" "$args"
done

printf '%-24s %-16s %6s %8s\n' IMAGE ACTION SECONDS SIZE
for row in "${SUMMARY[@]}"; do
  IFS='|' read -r t a s z <<<"$row"
  printf '%-24s %-16s %6s %8s\n' "$t" "$a" "$s" "$z"
done
echo "total: $((SECONDS - T0)) s (cache: $CACHE)"
