"""Cases that Django's own test suite showed, checked here on the test app."""

import pickle

from tests.conftest import queries
from tests.testapp.models import Author, Place, Restaurant


def test_pickling_a_queryset_with_a_prefetched_to_many(data):
    authors = list(Author.objects.prefetch_related("books").order_by("pk"))
    restored = pickle.loads(pickle.dumps(authors))
    with queries() as q:
        assert [len(a.books.all()) for a in restored] == [len(a.books.all()) for a in authors]
    assert len(q) == 0
    qs = Author.objects.prefetch_related("books")
    assert len(pickle.loads(pickle.dumps(qs))) == len(qs)


def test_foreign_key_cached_on_the_mti_parent_needs_no_query(data):
    place = Place.objects.select_related("owner", "restaurant").get(name="Luigi's")
    restaurant = place.restaurant
    assert isinstance(restaurant, Restaurant)
    with queries() as q:
        assert restaurant.owner.name == "Ada"
    assert len(q) == 0
