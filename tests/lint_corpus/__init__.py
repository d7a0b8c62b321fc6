"""Labelled fixture corpus of the static lint (data, never collected as tests).

Each top-level function is one case.  A line that the lint must report ends with
``# expect: CODE``; a case with no such line is correct code that it must not
report.  Functions marked ``# corpus: helper`` on their ``def`` line are parts of
other cases, not cases themselves.  ``tests/test_lint.py`` measures precision and
recall on it.
"""
