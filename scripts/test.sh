#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then runs it.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v pdftoppm >/dev/null 2>&1 || need_apt+=(poppler-utils)
command -v pspp >/dev/null 2>&1 || need_apt+=(pspp)
dpkg -s fonts-dejavu-core >/dev/null 2>&1 || need_apt+=(fonts-dejavu-core)
dpkg -s libpango-1.0-0 >/dev/null 2>&1 || need_apt+=(libpango-1.0-0 libpangoft2-1.0-0)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "Installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

python3 -m pip install -q -e ".[test]"
# axe-core for the accessibility checks of tests/e2e (git-ignored folder .npm-test)
AXE_VERSION=4.14.1
if [ ! -f .npm-test/node_modules/axe-core/axe.min.js ]; then
  command -v npm >/dev/null 2>&1 || { SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"; \
    $SUDO apt-get install -y -qq --no-install-recommends npm; }
  npm install --silent --no-audit --no-fund --prefix .npm-test "axe-core@${AXE_VERSION}"
fi
# every storage test also runs on PostgreSQL: start it, export KOMMUNALTYPEN_TEST_POSTGRES_URL
source scripts/start_postgres.sh
ruff check .
ruff format --check .
python3 -m pytest "$@"
