#!/usr/bin/env bash
# Makes the local PostgreSQL server available to the storage tests and exports
# KOMMUNALTYPEN_TEST_POSTGRES_URL. Sourced by scripts/test.sh (and so by .ci/run).
#
# - KOMMUNALTYPEN_TEST_POSTGRES_URL already set: nothing is done (use that server).
# - Otherwise: install Debian's postgresql when missing, start the cluster when it is not
#   running (pg_ctlcluster), and on a fresh install allow password-less connections from
#   127.0.0.1 (a test machine only) and create the database "test".
# Never fails the caller: when PostgreSQL cannot be made to work, the PostgreSQL variants of
# the tests fail loudly by themselves (tests/db_fixtures.py).

kt_pg_url="postgresql://postgres@127.0.0.1:5432/test"

kt_start_postgres() {
  if [ -n "${KOMMUNALTYPEN_TEST_POSTGRES_URL:-}" ]; then
    echo "PostgreSQL for tests: ${KOMMUNALTYPEN_TEST_POSTGRES_URL} (given)"
    return 0
  fi
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "Installing Debian package: postgresql"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      postgresql >/dev/null
  fi
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$version" ]; then
    echo "WARNING: no PostgreSQL cluster in /etc/postgresql; PostgreSQL tests will fail"
    return 0
  fi
  local hba="/etc/postgresql/$version/main/pg_hba.conf"
  if ! $sudo grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
    echo "Allowing password-less connections from 127.0.0.1 to the test PostgreSQL ($hba)"
    $sudo sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    $sudo pg_ctlcluster --skip-systemctl-redirect "$version" main reload >/dev/null 2>&1 || true
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    echo "Starting PostgreSQL $version"
    $sudo pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    local i
    for i in $(seq 1 30); do
      pg_isready -q -h 127.0.0.1 -p 5432 && break
      sleep 1
    done
  fi
  if ! psql -h 127.0.0.1 -U postgres -d test -Atc 'SELECT 1' >/dev/null 2>&1; then
    psql -h 127.0.0.1 -U postgres -d postgres -Atc 'CREATE DATABASE test' >/dev/null 2>&1 || true
  fi
  export KOMMUNALTYPEN_TEST_POSTGRES_URL="$kt_pg_url"
  if psql -h 127.0.0.1 -U postgres -d test -Atc 'SELECT 1' >/dev/null 2>&1; then
    echo "PostgreSQL for tests: $KOMMUNALTYPEN_TEST_POSTGRES_URL"
  else
    echo "WARNING: PostgreSQL at $KOMMUNALTYPEN_TEST_POSTGRES_URL does not answer; its tests will fail"
  fi
}

kt_start_postgres
