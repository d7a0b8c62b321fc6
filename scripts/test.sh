#!/usr/bin/env bash
# The whole test suite, as CI runs it: Django 5.2 LTS on Python 3.11 and Django 6.1 on
# Python >= 3.12, each on SQLite (files) and PostgreSQL, plus ruff and mypy --strict.
# It creates the virtualenvs it needs under .venv/ and starts PostgreSQL if it is down.
#
#   ./scripts/test.sh                 everything
#   ./scripts/test.sh -k R            extra arguments go to every pytest run
#   MATRIX="dj52:sqlite" ./scripts/test.sh   a subset of the matrix
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
MATRIX=${MATRIX:-"dj52:sqlite dj52:postgres dj61:sqlite dj61:postgres"}

python_at_least() {  # python_at_least MINOR: a python3 >= 3.MINOR, or nothing
  local minor=$1 cand v
  for cand in python3 python3.13 python3.12 python3.11; do
    if command -v "$cand" >/dev/null 2>&1 &&
       "$cand" -c "import sys; sys.exit(not (3, $minor) <= sys.version_info[:2] < (3, 15))" 2>/dev/null; then
      command -v "$cand"; return
    fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.[0-9]+\.[0-9]+$' | sort -V -r); do
      if [ "${v#3.}" != "$v" ] && [ "$(echo "$v" | cut -d. -f2)" -ge "$minor" ] && [ "$(echo "$v" | cut -d. -f2)" -lt 15 ]; then
        echo "$(pyenv root)/versions/$v/bin/python3"; return
      fi
    done
  fi
}

make_venv() {  # make_venv NAME PYTHON DJANGO_SPEC
  local name=$1 python=$2 django=$3 venv=".venv/$1"
  local stamp
  stamp=$(sha1sum pyproject.toml | cut -c1-12)
  if [ ! -f "$venv/.stamp-$stamp" ]; then
    echo "== creating $venv ($("$python" --version), $django)"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q -e ".[dev]" "$django"
    touch "$venv/.stamp-$stamp"
  fi
}

py311=$(python_at_least 11); py312=$(python_at_least 12)
[ -n "$py311" ] || { echo "No Python >= 3.11 found" >&2; exit 1; }
[ -n "$py312" ] || { echo "No Python >= 3.12 found (Django 6.1 needs it); install one or use pyenv" >&2; exit 1; }
case "$MATRIX" in *dj52*) make_venv dj52 "$py311" "django>=5.2,<5.3" ;; esac
case "$MATRIX" in *dj61*) make_venv dj61 "$py312" "django>=6.1,<6.2" ;; esac

case "$MATRIX" in *postgres*)
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    echo "== starting PostgreSQL"
    for version in $(ls /etc/postgresql 2>/dev/null); do
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
  pg_isready -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
;; esac

status=0
echo "== lint: ruff and mypy --strict"
lint_venv=.venv/$(echo "$MATRIX" | cut -d: -f1)
"$lint_venv/bin/ruff" check relations descriptors stubs tests example benchmarks || status=1
"$lint_venv/bin/ruff" format --check relations descriptors stubs || status=1
for name in dj52 dj61; do
  case "$MATRIX" in *$name*) "./.venv/$name/bin/mypy" || status=1 ;; esac
done

results="$root/.test-results"; rm -rf "$results"; mkdir -p "$results"
for combo in $MATRIX; do
  name=${combo%%:*}; db=${combo##*:}
  echo "== pytest: $name on $db"
  RELATIONS_TEST_DB=$db "./.venv/$name/bin/python" -m pytest -q \
      --junitxml="$results/$name-$db.xml" "$@" || status=1
done

"$lint_venv/bin/python" - "$results" <<'PY'
import sys, pathlib, xml.etree.ElementTree as ET
total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
print("\n== summary")
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.xml")):
    suite = ET.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {k: int(suite.get(k, 0)) for k in total}
    for k in total:
        total[k] += counts[k]
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    print(f"{path.stem:16} {passed:5} passed {counts['failures'] + counts['errors']:3} failed {counts['skipped']:3} skipped")
passed = total["tests"] - total["failures"] - total["errors"] - total["skipped"]
print(f"{passed} passed, {total['failures'] + total['errors']} failed, {total['skipped']} skipped")
PY
exit $status
