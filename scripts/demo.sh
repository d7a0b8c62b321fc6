#!/usr/bin/env bash
# One command on a fresh machine: a virtualenv with the library, then the demo.
#   scripts/demo.sh
# Uses python3 (>= 3.11) from PATH, or $PYTHON; the virtualenv goes to .venv/demo.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv/demo"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "$PYTHON is missing or older than Python 3.11; set PYTHON=/path/to/python3.11+" >&2
        exit 1
    fi
    echo "Creating $VENV with $("$PYTHON" --version 2>&1) ..."
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -qq --disable-pip-version-check --upgrade pip
fi
echo "Installing django-strict-relations (pip install -e .) ..."
"$VENV/bin/python" -m pip install -qq --disable-pip-version-check -e "$ROOT"

exec "$VENV/bin/python" "$ROOT/example/manage.py" demo
