#!/usr/bin/env bash
# Django's own test suite with the strict descriptors installed, as CI runs it:
# for Django 5.2 (.venv/dj52) and 6.1 (.venv/dj61)
#   1. lazy mode on SQLite, compared test by test with a run without the library;
#   2. raise mode on SQLite, compared with baseline-raise-<major.minor>.txt;
#   3. lazy mode on PostgreSQL, compared test by test with a run without the library;
#   4. loaders: lazy mode with RELATIONS["LAZY_LOADER"] = "relations" (the reads served by
#      the library's loaders on the sync driver) on the relation-heavy apps below, on
#      SQLite, compared test by test with a run without the library;
#   5. loaders-thread: the same, the reads served through async_to_sync on the thread driver.
# Every step runs even if an earlier one failed; the exit status is 1 if any failed.
# The virtualenvs come from scripts/test.sh; the Django source distributions are
# downloaded by run.py itself (cached in .cache/django-suite/).
#
#   tests/django_suite/ci.sh                  everything
#   VERSIONS=dj61 tests/django_suite/ci.sh    one Django version
#   STEPS="lazy raise" tests/django_suite/ci.sh   skip PostgreSQL
set -uo pipefail
cd "$(dirname "$0")/../.."
VERSIONS=${VERSIONS:-"dj52 dj61"}
STEPS=${STEPS:-"lazy raise postgres loaders loaders-thread"}
# The apps where the loaders serve the most reads (see README.md, "Served reads").
LOADER_APPS=(one_to_one fixtures generic_relations queries serializers foreign_object select_related
  prefetch_related many_to_one model_inheritance admin_changelist composite_pk select_related_regress
  multiple_database known_related_objects m2m_through contenttypes_tests defer_regress custom_pk
  custom_managers delete update_only_fields)
JOBS=${DJANGO_SUITE_JOBS:-2}

for name in $VERSIONS; do
  if [ ! -x ".venv/$name/bin/python" ]; then
    echo "ERROR: .venv/$name is missing; scripts/test.sh creates it" >&2
    exit 2
  fi
done

case "$STEPS" in *postgres*)
  if ! pg_isready -q -h "${PGHOST:-127.0.0.1}" -p "${PGPORT:-5432}" 2>/dev/null; then
    echo "== starting PostgreSQL"
    for version in $(ls /etc/postgresql 2>/dev/null); do
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    for _ in $(seq 1 30); do pg_isready -q -h "${PGHOST:-127.0.0.1}" -p "${PGPORT:-5432}" && break; sleep 1; done
  fi
  if ! pg_isready -h "${PGHOST:-127.0.0.1}" -p "${PGPORT:-5432}"; then
    echo "ERROR: PostgreSQL is not reachable" >&2
    exit 2
  fi
;; esac

status=0
summary=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start_all=$(date +%s)
for name in $VERSIONS; do
  python=".venv/$name/bin/python"
  for step in $STEPS; do
    case $step in
      lazy)     args=(--mode lazy --db sqlite) ;;
      raise)    args=(--mode raise --db sqlite) ;;
      postgres) args=(--mode lazy --db postgres --pg-prefix "django_suite_$name") ;;
      loaders)  args=(--mode lazy --db sqlite --lazy-loader relations --apps "${LOADER_APPS[@]}") ;;
      loaders-thread)
        args=(--mode lazy --db sqlite --lazy-loader relations --lazy-driver thread --apps "${LOADER_APPS[@]}") ;;
      *) echo "unknown step $step" >&2; exit 2 ;;
    esac
    echo
    echo "== $name: run.py ${args[*]}"
    start=$(date +%s)
    "$python" tests/django_suite/run.py "${args[@]}" --jobs "$JOBS" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    took=$(( $(date +%s) - start ))
    [ "$rc" -eq 0 ] || status=1
    while IFS= read -r line; do summary+=("$line"); done < <(grep -E '^(SUMMARY|RESULT|note: \[[^]]*\] reads served)' "$log")
    summary+=("   ($name $step: exit $rc, ${took}s)")
  done
done

echo
echo "== Django test suite summary ($(( $(date +%s) - start_all ))s in all)"
printf '%s\n' "${summary[@]}"
exit $status
