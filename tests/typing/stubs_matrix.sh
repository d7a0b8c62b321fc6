#!/usr/bin/env bash
# The typing tests against the OLDEST django-stubs the package declares (pyproject's dev extra:
# django-stubs>=5.2), with the newest mypy that release declares compatible (its
# "compatible-mypy" extra: mypy 1.15), on Django 5.2 / Python 3.11.  The newest django-stubs
# is what scripts/test.sh's own venvs get, so the normal suite covers that end.
#
#   tests/typing/stubs_matrix.sh            (from anywhere; creates .venv/stubs-oldest-dj52 once)
#
# Runtime: ~1-2 min to create the venv the first time, ~2 min of mypy runs.
set -euo pipefail
cd "$(dirname "$0")/../.."

OLDEST_STUBS=5.2.0
venv=.venv/stubs-oldest-dj52

find_python311() {
  local cand
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 &&
       "$cand" -c "import sys; sys.exit(sys.version_info[:2] != (3, 11))" 2>/dev/null; then
      command -v "$cand"; return
    fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    cand=$(pyenv versions --bare 2>/dev/null | grep -E '^3\.11\.[0-9]+$' | sort -V | tail -1)
    [ -n "$cand" ] && echo "$(pyenv root)/versions/$cand/bin/python3"
  fi
}

stamp=$(cat pyproject.toml tests/typing/stubs_matrix.sh | sha1sum | cut -c1-12)
if [ ! -f "$venv/.stamp-$stamp" ]; then
  python=$(find_python311)
  [ -n "$python" ] || { echo "No Python 3.11 found" >&2; exit 1; }
  echo "== creating $venv ($("$python" --version), django-stubs==$OLDEST_STUBS)"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -e . "django>=5.2,<5.3" \
      "django-stubs[compatible-mypy]==$OLDEST_STUBS" "django-stubs-ext==$OLDEST_STUBS" \
      "pytest>=8" "pytest-django>=4.9" "pytest-asyncio>=0.24"
  touch "$venv/.stamp-$stamp"
fi

echo "== typing tests: $("$venv/bin/python" -m mypy --version), django-stubs $OLDEST_STUBS, Django $("$venv/bin/python" -c 'import django; print(django.get_version())')"
RELATIONS_TEST_DB=sqlite "$venv/bin/python" -m pytest -q tests/typing "$@"
