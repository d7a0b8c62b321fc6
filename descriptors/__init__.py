"""Strict related descriptors: a relation is readable only once it is loaded.

Django reaches every related object through a descriptor on the model class.  This
package subclasses each of them; a strict descriptor answers "is it loaded?" from
Django's own caches, returns the value when it is (or when Django needs no query to
know it), and otherwise asks ``relations.policy`` what to do: raise
``RelationNotLoaded`` (the default), warn, or let Django load it.  No descriptor
here runs a query of its own.

One example covers every kind::

    class Publisher(Model): ...
    class Author(Model):
        publisher = ForeignKey(Publisher, null=True, on_delete=CASCADE)
    class Profile(Model):
        author = OneToOneField(Author, on_delete=CASCADE)
    class Tag(Model): ...
    class Book(Model):
        author = ForeignKey(Author, related_name="books", on_delete=CASCADE)
        tags = ManyToManyField(Tag, related_name="books")
        comments = GenericRelation("Comment")
    class Comment(Model):
        content_type = ForeignKey(ContentType, on_delete=CASCADE)
        object_id = PositiveIntegerField()
        target = GenericForeignKey()
    class Store(Place): ...                # multi-table inheritance

* ``book.author``: **forward foreign key** (``StrictForwardManyToOneDescriptor``).
  Loaded when ``Book.author`` is in ``book._state.fields_cache``; a NULL
  ``author_id`` needs no query and reads as None.
* ``profile.author`` and ``store.place_ptr``: **forward one-to-one** and
  **parent link** (``StrictForwardOneToOneDescriptor``).  A parent link whose
  parent columns are all on the child needs no query: Django builds the parent.
* ``author.profile``: **reverse one-to-one** (``StrictReverseOneToOneDescriptor``).
  Loaded when cached, even as "no row" (reading then raises Django's
  ``RelatedObjectDoesNotExist`` without a query).
* ``author.books``: **reverse foreign key** manager (``StrictReverseManyToOneDescriptor``),
  and ``book.tags`` / ``tag.books``: **many-to-many** managers, both sides
  (``StrictManyToManyDescriptor``).  The manager is always returned; loaded means
  the relation is in ``_prefetched_objects_cache``.  Only evaluating the full,
  unprefetched set (iterating ``.all()``, ``len``, ``bool``, ``.count()``,
  ``.exists()``, ``.iterator()`` in sync code) is guarded; new queries such as
  ``.filter()``, ``async for`` and ``.acount()`` are explicit and allowed.
* ``comment.target``: **generic foreign key** and ``book.comments``: **generic
  relation** (``descriptors.generic``, imported once the app registry is ready).
  A NULL content type or object id needs no query and reads as None.

``descriptors.install`` puts these classes on every model, contrib and third-party
ones included.
"""

from .to_many import StrictManyToManyDescriptor, StrictReverseManyToOneDescriptor
from .to_one import (
    StrictForwardManyToOneDescriptor,
    StrictForwardOneToOneDescriptor,
    StrictReverseOneToOneDescriptor,
)

__all__ = [
    "StrictForwardManyToOneDescriptor",
    "StrictForwardOneToOneDescriptor",
    "StrictManyToManyDescriptor",
    "StrictReverseManyToOneDescriptor",
    "StrictReverseOneToOneDescriptor",
]
