#!/usr/bin/env bash
# Installs the Debian packages Ringleader builds and tests with. Idempotent: packages that
# are already present are not reinstalled, and apt is not touched at all when nothing is missing.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config
  libcurl4-openssl-dev libssl-dev nlohmann-json3-dev libyaml-cpp-dev libspdlog-dev
  libcpprest-dev libopenmpi-dev openmpi-bin libgtest-dev libgmock-dev
  clang libclang-rt-14-dev gnuplot-nox procps curl jq
)
# kubectl (the e2e tests drive the real one) is not a Debian package; it is on every machine
# of ours. Without it the kubectl tests skip, saying so.
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
