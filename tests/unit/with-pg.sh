#!/usr/bin/env bash
# tests/unit/with-pg.sh TEST [ARG...] - run a unit test against a
# throwaway PostgreSQL server (tests/integration/pg-lib.sh): the test
# finds its URL in JIT_TEST_STORE (tests/unit/test-store-open.h).  Exits
# 77 (SKIP) when the server binaries are missing.
set -u
T=$(mktemp -d "${TMPDIR:-/tmp}/jit-pgunit.XXXXXX") || exit 1
chmod 755 "$T"
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/../integration/pg-lib.sh"
pg_need
pg_start || exit 1
JIT_TEST_STORE=$PG_URL "$@"
