#!/usr/bin/env bash
# Third-party apps' test suites with the strict descriptors, as CI runs them: for
# Django 5.2 (.venv/dj52) and 6.1 (.venv/dj61), every app of run.py
#   1. lazy mode, compared test by test with a run without the library;
#   2. raise mode, compared with baseline-raise-<app>-<major.minor>.txt (and no
#      RelationNotLoaded from an app's own code).
# Every step runs even if an earlier one failed; the exit status is 1 if any failed.
#   VERSIONS=dj61 tests/thirdparty_suite/ci.sh     one Django version
#   APPS=guardian tests/thirdparty_suite/ci.sh     one app
set -uo pipefail
cd "$(dirname "$0")/../.."
VERSIONS=${VERSIONS:-"dj52 dj61"}
APPS=${APPS:-"guardian filter"}
status=0
summary=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start_all=$(date +%s)
for name in $VERSIONS; do
  python=".venv/$name/bin/python"
  [ -x "$python" ] || { echo "ERROR: .venv/$name is missing; scripts/test.sh creates it" >&2; exit 2; }
  for mode in lazy raise; do
    echo "== $name: run.py --mode $mode --apps $APPS"
    start=$(date +%s)
    # shellcheck disable=SC2086
    "$python" tests/thirdparty_suite/run.py --mode "$mode" --apps $APPS 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    [ "$rc" -eq 0 ] || status=1
    while IFS= read -r line; do summary+=("$line"); done < <(grep -E '^(SUMMARY|RESULT)' "$log")
    summary+=("   ($name $mode: exit $rc, $(( $(date +%s) - start ))s)")
  done
done
echo
echo "== third-party suites summary ($(( $(date +%s) - start_all ))s in all)"
printf '%s\n' "${summary[@]}"
exit $status
