"""Lookups that continue through an earlier Prefetch(to_attr=...), as Django allows."""

import pytest
from django.db.models import Prefetch, prefetch_related_objects

from relations import UnknownRelation, aprefetch, prefetch
from tests.conftest import queries, run
from tests.testapp.models import Author, Book


def pks(objs):
    return [o.pk for o in objs]


@pytest.mark.parametrize("face", ["sync", "async"])
def test_lookup_through_to_attr_matches_django(data, face):
    lookups = (
        Prefetch("books", queryset=Book.objects.order_by("title"), to_attr="book_list"),
        "book_list__tags",
    )
    ours = list(Author.objects.order_by("pk"))
    with queries() as q:
        if face == "sync":
            prefetch(ours, *lookups)
        else:

            async def load():
                await aprefetch(ours, *lookups)

            run(load)
    assert len(q) == 2  # books, then their tags: the to_attr hop costs nothing
    theirs = list(Author.objects.order_by("pk"))
    prefetch_related_objects(theirs, *lookups)
    with queries() as q:
        for mine, django in zip(ours, theirs, strict=True):
            assert pks(mine.book_list) == pks(django.book_list)
            for a, b in zip(mine.book_list, django.book_list, strict=True):
                assert sorted(pks(a.tags.all())) == sorted(pks(b.tags.all()))
    assert len(q) == 0


def test_unknown_attribute_is_still_unknown_before_any_query(data):
    authors = list(Author.objects.all())
    with queries() as q, pytest.raises(UnknownRelation, match='"book_list" is not a relation of Author'):
        prefetch(authors, "book_list__tags")
    assert len(q) == 0
