"""ASGI entry point of the bookstore example, for uvicorn (or any ASGI server).

    cd example && uvicorn bookstore.asgi:application --host 127.0.0.1 --port 8000

``benchmarks/http_views.py`` starts it this way against a seeded database.
"""

import os
import sys
from pathlib import Path

# Use the library from this checkout when it is not pip-installed (as manage.py does).
try:
    import relations  # noqa: F401
except ImportError:
    sys.path.insert(1, str(Path(__file__).resolve().parent.parent.parent))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bookstore.settings")

from django.core.asgi import get_asgi_application

application = get_asgi_application()
