"""Is this read made in an interactive session, where ``RELATIONS["SHELL_MODE"]`` applies?

Interactive means one of:

- Django's ``shell`` command is running (interactive, ``-c "..."`` or code piped on
  stdin): its module is on the stack.  Checked on the stack rather than from
  ``sys.argv`` so that ``call_command("shell", ...)`` counts and a command that
  merely starts with the same word does not.
- IPython is running (the terminal, or a Jupyter kernel): ``get_ipython()`` gives a
  shell.  IPython is not imported here; if nothing imported it, it is not running.
- The plain Python REPL has shown its prompt (``sys.ps1`` exists only then,
  including ``python -i script.py`` once the script has ended).

Tests, ``runserver``, other management commands and scripts are none of these.
Only reads of unloaded relations ask, so the stack walk costs nothing elsewhere.
"""

from __future__ import annotations

import sys

_SHELL_COMMAND = "django.core.management.commands.shell"


def _shell_command_running() -> bool:
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__") == _SHELL_COMMAND:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _ipython_running() -> bool:
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    return get_ipython is not None and get_ipython() is not None


def interactive() -> bool:
    """True in ``manage.py shell``, IPython/Jupyter and the plain Python REPL."""
    return hasattr(sys, "ps1") or _ipython_running() or _shell_command_running()
