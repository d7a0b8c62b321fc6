#!/usr/bin/env bash
# Django REST framework's own test suite with the strict descriptors installed, as CI
# runs it: lazy mode on SQLite for Django 5.2 (.venv/dj52) and 6.1 (.venv/dj61), each
# compared test by test with a run without the library (run.py --mode lazy).  The DRF
# source distribution is downloaded by run.py (cached in .cache/drf-suite/).
#
#   tests/drf_suite/ci.sh                  both versions
#   VERSIONS=dj61 tests/drf_suite/ci.sh    one
set -uo pipefail
cd "$(dirname "$0")/../.."
status=0
for name in ${VERSIONS:-dj52 dj61}; do
  echo "== DRF test suite, lazy mode, $name"
  PYTHONPATH="$PWD" ".venv/$name/bin/python" tests/drf_suite/run.py --mode lazy || status=1
done
exit $status
