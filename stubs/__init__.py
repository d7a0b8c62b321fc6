"""Typing support for django-strict-relations, installed as ``relations.stubs``.

* ``relations.stubs.mypy_plugin``: the mypy plugin
  (``plugins = mypy_django_plugin.main, relations.stubs.mypy_plugin``);
* ``Loaded``: ``Loaded[Book, Literal["author"]]`` annotates a Book whose author is loaded;
* ``RelationLoad``: the static type of ``obj.R(path)``.

Nothing here imports Django.
"""

from ._types import Loaded, RelationLoad

__all__ = ["Loaded", "RelationLoad"]
