#!/usr/bin/env bash
# Installs kommunaltypen on a fresh Debian machine and runs the main job on the bundled
# example data (the reconstruction of the study's data). Results go to ./ergebnisse
# (or the directory given as first argument).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-ergebnisse}"

need_apt=()
dpkg -s libpango-1.0-0 >/dev/null 2>&1 || need_apt+=(libpango-1.0-0 libpangoft2-1.0-0)
dpkg -s fonts-dejavu-core >/dev/null 2>&1 || need_apt+=(fonts-dejavu-core)
if [ ${#need_apt[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian packages for PDF output: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

python3 -m pip install -q ".[web]"
kommunaltypen analyze --out "$out"
