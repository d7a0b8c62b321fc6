"""Shared tables for the descriptor, mode and error tests: one ``Case`` per relation kind.

A case names a model, a relation on it, and one saved instance whose relation is
not empty, plus what the tests need to check a read of it independently of the
library's own code: the kind phrase, the wording of the kind in messages, the
QuerySet method that loads it, and the value Django gives.

The ``mx`` fixture (import ``mx_fixture`` to use it) extends the shared ``data``
bookstore so that every model of the table has at least two rows (for the
multi-row results of ``n_plus_one``) and contrib models (auth users, groups,
permissions) take part.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, QuerySet

from tests.testapp.models import (
    Author,
    Book,
    BookProxy,
    Club,
    Comment,
    Membership,
    Place,
    Profile,
    Restaurant,
    Review,
    Tag,
)

MODES = ("raise", "warn", "lazy", "n_plus_one")

ABSENT = "<RelatedObjectDoesNotExist>"
"""What ``read()`` returns for a reverse one-to-one with no row."""


@dataclass(frozen=True)
class Case:
    """One relation of one model, and the instance the tests read it on."""

    id: str
    model: type[Model]
    name: str
    kind: str  # RelationNotLoaded.kind
    describe: str  # "Book.author is <describe>. Load it explicitly:"
    many: bool
    pick: Callable[[dict[str, Any]], Model]  # the saved instance (any copy of it)
    expected: Callable[[dict[str, Any]], Any]  # read() of a loaded copy
    base: Callable[[], QuerySet[Any]] | None = None  # the queryset that fetches it
    assign: Callable[[dict[str, Any]], Model] | None = None  # the object to assign (to-one)
    lazy_queries: int = 1  # queries Django's own descriptor runs for read()

    @property
    def fix(self) -> str:
        """The QuerySet method that loads this relation (checked against messages).

        Not select_related for a parent link: Django joins the parent's columns
        anyway and ignores ``select_related("place_ptr")``, so with deferred parent
        columns only ``prefetch_related("place_ptr")`` loads it.
        """
        joinable = {"forward foreign key", "forward one-to-one", "reverse one-to-one"}
        return "select_related" if self.kind in joinable else "prefetch_related"

    @property
    def var(self) -> str:
        return self.model._meta.model_name  # type: ignore[return-value]

    @property
    def label(self) -> str:
        return self.model._meta.label

    def queryset(self) -> QuerySet[Any]:
        return self.base() if self.base is not None else self.model._default_manager.all()

    def pk(self, mx: dict[str, Any]) -> Any:
        return self.pick(mx).pk

    def alone(self, mx: dict[str, Any]) -> Model:
        """A fresh copy fetched on its own with ``.get()``."""
        return self.queryset().get(pk=self.pk(mx))

    def peers(self, mx: dict[str, Any]) -> tuple[Model, list[Model]]:
        """A fresh copy from a multi-row result, and that whole result."""
        rows = list(self.queryset().order_by("pk"))
        assert len(rows) >= 2, f"{self.id}: the fixture needs two rows or more"
        pk = self.pk(mx)
        return next(r for r in rows if r.pk == pk), rows

    def read(self, instance: Model) -> Any:
        """Plain access, as user code writes it; the value as pks."""
        if self.many:
            return sorted(obj.pk for obj in getattr(instance, self.name).all())
        if self.kind == "reverse one-to-one":
            try:
                value = getattr(instance, self.name)
            except getattr(self.model, self.name).RelatedObjectDoesNotExist:
                return ABSENT
        else:
            value = getattr(instance, self.name)
        return None if value is None else (type(value)._meta.concrete_model, value.pk)


def _one(obj: Model) -> tuple[type[Model], Any]:
    return (type(obj)._meta.concrete_model, obj.pk)


def _many(objs: list[Model]) -> list[Any]:
    return sorted(o.pk for o in objs)


CASES: list[Case] = [
    Case(
        "forward_fk",
        Book,
        "author",
        "forward foreign key",
        "a foreign key to Author",
        False,
        pick=lambda mx: mx["books"][0],
        expected=lambda mx: _one(mx["authors"][0]),
        assign=lambda mx: Author.objects.get(pk=mx["authors"][0].pk),
    ),
    Case(
        "forward_o2o",
        Profile,
        "author",
        "forward one-to-one",
        "a one-to-one field to Author",
        False,
        pick=lambda mx: mx["profiles"][0],
        expected=lambda mx: _one(mx["authors"][0]),
        assign=lambda mx: Author.objects.get(pk=mx["authors"][0].pk),
    ),
    Case(
        "reverse_o2o",
        Author,
        "profile",
        "reverse one-to-one",
        "the reverse side of the one-to-one field Profile.author",
        False,
        pick=lambda mx: mx["authors"][0],
        expected=lambda mx: _one(mx["profiles"][0]),
        assign=lambda mx: Profile.objects.get(pk=mx["profiles"][0].pk),
    ),
    Case(
        "reverse_o2o_absent",
        Author,
        "profile",
        "reverse one-to-one",
        "the reverse side of the one-to-one field Profile.author",
        False,
        pick=lambda mx: mx["authors"][1],  # Bob has no profile
        expected=lambda mx: ABSENT,
    ),
    Case(
        "parent_link_deferred",
        Restaurant,
        "place_ptr",
        "multi-table inheritance parent link",
        "the multi-table inheritance link to the parent Place",
        False,
        pick=lambda mx: mx["restaurants"][0],
        expected=lambda mx: (Place, mx["restaurants"][0].pk),
        # Parent columns deferred: Django needs a query to build the parent.
        base=lambda: Restaurant.objects.only("serves_pizza"),
        assign=lambda mx: Place.objects.get(pk=mx["restaurants"][0].pk),
    ),
    Case(
        "reverse_fk",
        Author,
        "books",
        "reverse foreign key",
        "the reverse side of the foreign key Book.author",
        True,
        pick=lambda mx: mx["authors"][0],
        expected=lambda mx: _many(mx["books"][:2]),
    ),
    Case(
        "m2m",
        Book,
        "tags",
        "many-to-many",
        "a many-to-many field to Tag",
        True,
        pick=lambda mx: mx["books"][0],
        expected=lambda mx: _many(mx["tags"][:2]),
    ),
    Case(
        "reverse_m2m",
        Tag,
        "books",
        "reverse many-to-many",
        "the reverse side of the many-to-many field Book.tags",
        True,
        pick=lambda mx: mx["tags"][1],
        expected=lambda mx: _many(mx["books"][:3]),
    ),
    Case(
        "through_m2m",
        Club,
        "members",
        "many-to-many",
        "a many-to-many field to Author",
        True,
        pick=lambda mx: mx["clubs"][0],
        expected=lambda mx: _many(mx["authors"][:2]),
    ),
    Case(
        "through_reverse_m2m",
        Author,
        "clubs",
        "reverse many-to-many",
        "the reverse side of the many-to-many field Club.members",
        True,
        pick=lambda mx: mx["authors"][0],
        expected=lambda mx: _many(mx["clubs"]),
    ),
    Case(
        "generic_relation",
        Book,
        "comments",
        "generic relation",
        "a generic relation to Comment",
        True,
        pick=lambda mx: mx["books"][0],
        expected=lambda mx: _many(mx["comments"][:2]),
    ),
    Case(
        "gfk",
        Comment,
        "target",
        "generic foreign key",
        "a generic foreign key",
        False,
        pick=lambda mx: mx["comments"][0],
        expected=lambda mx: _one(mx["books"][0]),
        assign=lambda mx: Book.objects.get(pk=mx["books"][0].pk),
    ),
    Case(
        "contrib_user_groups",
        User,
        "groups",
        "many-to-many",
        "a many-to-many field to Group",
        True,
        pick=lambda mx: mx["users"][0],
        expected=lambda mx: _many(mx["groups"]),
    ),
    Case(
        "contrib_permission_content_type",
        Permission,
        "content_type",
        "forward foreign key",
        "a foreign key to ContentType",
        False,
        pick=lambda mx: mx["permissions"][0],
        expected=lambda mx: _one(ContentType.objects.get_for_model(Book)),
        base=lambda: Permission.objects.filter(codename__startswith="mx_"),
        assign=lambda mx: ContentType.objects.get(pk=ContentType.objects.get_for_model(Book).pk),
    ),
    Case(
        "proxy_fk",
        BookProxy,
        "author",
        "forward foreign key",
        "a foreign key to Author",
        False,
        pick=lambda mx: mx["books"][0],
        expected=lambda mx: _one(mx["authors"][0]),
        assign=lambda mx: Author.objects.get(pk=mx["authors"][0].pk),
    ),
    Case(
        "abstract_inherited_fk",
        Review,
        "created_by",
        "forward foreign key",
        "a foreign key to Author",
        False,
        pick=lambda mx: mx["reviews"][0],
        expected=lambda mx: _one(mx["authors"][1]),
        assign=lambda mx: Author.objects.get(pk=mx["authors"][1].pk),
    ),
    Case(
        "self_fk",
        Author,
        "mentor",
        "forward foreign key",
        "a foreign key to Author",
        False,
        pick=lambda mx: mx["authors"][1],
        expected=lambda mx: _one(mx["authors"][0]),
        assign=lambda mx: Author.objects.get(pk=mx["authors"][0].pk),
    ),
]

CASE_IDS = [c.id for c in CASES]
TO_ONE = [c for c in CASES if not c.many]
TO_MANY = [c for c in CASES if c.many]
JOINABLE = [c for c in CASES if c.fix == "select_related"]
ASSIGNABLE = [c for c in CASES if c.assign is not None]


def cases(selection: list[Case]) -> Any:
    """``pytest.mark.parametrize`` over ``selection`` with readable ids."""
    return pytest.mark.parametrize("case", selection, ids=[c.id for c in selection])


@pytest.fixture(name="mx")
def mx_fixture(data: dict[str, Any]) -> dict[str, Any]:
    """The shared bookstore, with two rows or more of every model in ``CASES``."""
    a1, a2, a3 = data["authors"]
    b1 = data["books"][0]
    profiles = [Profile.objects.get(author=a1), Profile.objects.create(author=a3, bio="cy bio")]
    restaurants = [
        Restaurant.objects.get(),
        Restaurant.objects.create(name="Mario's", owner=a2, serves_pizza=False),
    ]
    club1 = Club.objects.get()
    club2 = Club.objects.create(name="Oulipo")
    Membership.objects.create(club=club2, author=a1)
    Membership.objects.create(club=club2, author=a3)
    reviews = [Review.objects.get(), Review.objects.create(book=b1, created_by=a3, stars=1)]
    g1 = Group.objects.create(name="editors")
    g2 = Group.objects.create(name="readers")
    u1 = User.objects.create(username="ada")
    u2 = User.objects.create(username="bob")
    u1.groups.set([g1, g2])
    u2.groups.set([g2])
    ct_book = ContentType.objects.get_for_model(Book)  # also warms ContentType's cache
    ContentType.objects.get_for_model(Author)
    permissions = [
        Permission.objects.create(codename="mx_read", name="read", content_type=ct_book),
        Permission.objects.create(codename="mx_write", name="write", content_type=ct_book),
    ]
    comments = list(Comment.objects.order_by("pk"))
    return {
        **data,
        "profiles": profiles,
        "restaurants": restaurants,
        "clubs": [club1, club2],
        "reviews": reviews,
        "groups": [g1, g2],
        "users": [u1, u2],
        "permissions": permissions,
        "comments": comments,
    }
