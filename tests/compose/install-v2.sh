#!/usr/bin/env bash
# Installs Compose v2 (Debian trixie's docker-compose 2.x package) beside the
# system's v1, without replacing /usr/bin/docker-compose: the package is
# downloaded through a private apt setup and extracted into a cache folder.
# Idempotent: does nothing when the binary is already there.
#
# Prints the folder to use as DOCKER_CONFIG, whose cli-plugins/docker-compose
# makes `docker compose` run v2 for whoever sets DOCKER_CONFIG to it.
set -euo pipefail

cache="${SDTUI_COMPOSE_V2_DIR:-/var/cache/sdtui-compose-v2}"
plugin="$cache/root/usr/libexec/docker/cli-plugins/docker-compose"
docker_config="$cache/docker-config"

if [ ! -x "$plugin" ]; then
  mirror="${SDTUI_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
  apt_dir="$cache/apt"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$cache/root"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$apt_dir/sources.list"
  apt_opts=(
    -o "Dir::Etc::SourceList=$apt_dir/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache::Archives=$apt_dir/archives"
    -o "Dir::Cache=$apt_dir"
    -o "APT::Sandbox::User=root"
    -o "Debug::NoLocking=1"
  )
  apt-get -qq "${apt_opts[@]}" update
  # Downloads into the current folder.
  (cd "$apt_dir/archives" && apt-get -qq "${apt_opts[@]}" download docker-compose)
  deb=$(ls -t "$apt_dir"/archives/docker-compose_2*.deb | head -n1)
  dpkg -x "$deb" "$cache/root"
  test -x "$plugin" || { echo "install-v2.sh: $deb holds no $plugin" >&2; exit 1; }
fi

mkdir -p "$docker_config/cli-plugins"
ln -sfn "$plugin" "$docker_config/cli-plugins/docker-compose"
DOCKER_CONFIG="$docker_config" docker compose version >/dev/null
echo "$docker_config"
