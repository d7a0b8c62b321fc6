"""Peers: R() on one instance of a result loads the relation on the whole result.

Instances that one queryset evaluation produced are peers (relations/peers.py); the
first R() on one of them loads its relation on every live peer (RELATIONS["PEERS"],
on by default).  Lines labelled ``# without peers: CODE`` are reported only when
RELATIONS["PEERS"] is False (tests/test_lint.py lints this file both ways).
"""

from django.shortcuts import get_list_or_404

from relations import R
from tests.testapp.models import Author, Book


def r_sync_on_the_first_item():
    books = list(Book.objects.all())
    books[0].R("author").sync()
    return [b.author.name for b in books]  # without peers: REL001


def r_function_on_the_last_item():
    books = list(Book.objects.filter(title__startswith="A"))
    R(books[-1], "author").sync()
    return [b.author.name for b in books]  # without peers: REL001


async def await_r_method_on_an_item():
    books = [b async for b in Book.objects.all()]
    await books[0].R("author")
    return [b.author.name for b in books]  # without peers: REL002


async def await_r_function_to_many():
    books = [b async for b in Book.objects.all()]
    await R(books[0], "tags")
    return [[t.name for t in b.tags.all()] for b in books]  # without peers: REL002


def to_many_sync():
    books = list(Book.objects.all())
    books[0].R("tags").sync()
    return [len(b.tags.all()) for b in books]  # without peers: REL001


def a_path_loads_every_hop_on_the_peers():
    books = list(Book.objects.all())
    books[0].R("author__publisher").sync()
    return [(b.author.name, b.author.publisher) for b in books]  # without peers: REL001


def an_item_taken_into_a_variable():
    books = sorted(Book.objects.all(), key=lambda b: b.title)
    first = books[0]
    first.R("editor").sync()
    return [b.editor for b in books]  # without peers: REL001


def the_queryset_cache_after_evaluation():
    qs = Book.objects.filter(title__startswith="A")
    if not qs:
        return []
    qs[0].R("author").sync()
    return [b.author.name for b in qs]  # without peers: REL001


def cached_first_of_an_ordered_queryset():
    qs = Book.objects.order_by("title")
    titles = [b.title for b in qs]
    qs.first().R("author").sync()
    return titles, [b.author.name for b in qs]  # without peers: REL001


def in_bulk_values():
    by_id = Book.objects.in_bulk()
    by_id[min(by_id)].R("author").sync()
    return [b.author.name for b in by_id.values()]  # without peers: REL001


def get_list_or_404_result():
    books = get_list_or_404(Book, title__startswith="A")
    books[0].R("author").sync()
    return [b.author.name for b in books]  # without peers: REL001


def a_filtered_copy_holds_the_same_peers():
    books = list(Book.objects.all())
    recent = [b for b in books if b.title.startswith("A")]
    if recent:
        recent[0].R("author").sync()
        return [b.author.name for b in books]  # without peers: REL001
    return []


def select_related_objects_are_peers_per_path():
    books = list(Book.objects.select_related("author"))
    books[0].author.R("publisher").sync()
    return [b.author.publisher for b in books]  # without peers: REL001


def prefetched_objects_are_peers():
    authors = list(Author.objects.prefetch_related("books"))
    authors[0].books.all()[0].R("tags").sync()
    return [[len(b.tags.all()) for b in a.books.all()] for a in authors]  # without peers: REL001


def warm_one(book):  # corpus: helper
    book.R("author").sync()


def a_helper_loads_one_item():
    books = list(Book.objects.all())
    warm_one(books[0])
    return [b.author.name for b in books]  # without peers: REL001


def r_with_an_unknown_refresh_flag(again):
    books = list(Book.objects.all())
    books[0].R("author", refresh=again).sync()
    return [b.author.name for b in books]  # without peers: REL001


# -- true N+1s: what R() loaded is not on the instances read -------------------


def r_on_an_item_of_another_queryset():
    books = list(Book.objects.all())
    others = list(Book.objects.filter(title__startswith="A"))
    others[0].R("author").sync()
    return [b.author.name for b in books]  # expect: REL001


def r_with_a_queryset_loads_only_its_instance():
    books = list(Book.objects.all())
    books[0].R("author", queryset=Author.objects.only("name")).sync()
    return [b.author.name for b in books]  # expect: REL001


def r_with_refresh_loads_only_its_instance():
    books = list(Book.objects.all())
    R(books[0], "author", refresh=True).sync()
    return [b.author.name for b in books]  # expect: REL001


async def await_r_with_refresh():
    books = [b async for b in Book.objects.all()]
    await books[0].R("tags", refresh=True)
    return [[t.name for t in b.tags.all()] for b in books]  # expect: REL002


def get_fetches_one_row_alone():
    book = Book.objects.get(title="A0")
    book.R("author").sync()
    return [b.author.name for b in Book.objects.all()]  # expect: REL001


def first_of_an_unevaluated_queryset():
    qs = Book.objects.order_by("title")
    qs.first().R("author").sync()
    return [b.author.name for b in qs]  # expect: REL001


def first_of_an_unordered_queryset_runs_its_own_query():
    qs = Book.objects.all()
    count = len(qs)
    qs.first().R("author").sync()  # Book has no Meta.ordering: first() orders by pk, anew
    return count, [b.author.name for b in qs]  # expect: REL001


def index_of_an_unevaluated_queryset():
    qs = Book.objects.all()
    qs[0].R("author").sync()
    return [b.author.name for b in qs]  # expect: REL001


def a_new_queryset_from_an_evaluated_one():
    qs = Book.objects.all()
    books = list(qs)
    qs.filter(title__startswith="A")[0].R("author").sync()
    return [b.author.name for b in books]  # expect: REL001


def r_loads_another_relation():
    books = list(Book.objects.all())
    books[0].R("editor").sync()
    return [b.author.name for b in books]  # expect: REL001


def a_path_stops_before_the_read():
    books = list(Book.objects.all())
    books[0].R("author").sync()
    return [b.author.publisher for b in books]  # expect: REL001


def to_one_objects_read_one_by_one_are_not_peers():
    books = list(Book.objects.all())
    authors = [b.author for b in books]  # expect: REL001
    authors[0].R("publisher").sync()
    return [a.publisher for a in authors]  # expect: REL001


def an_object_loaded_alone_has_no_peers():
    books = list(Book.objects.all())
    first = books[0]
    first.R("author", queryset=Author.objects.all()).sync()
    first.author.R("publisher").sync()  # the only author loaded: no peers to load with it
    return [b.author.publisher for b in books]  # expect: REL001


def each_evaluation_of_a_helper_is_its_own():  # a helper's result is a new evaluation per call
    first = all_books()
    second = all_books()
    first[0].R("author").sync()
    return [b.author.name for b in second]  # expect: REL001


def all_books():  # corpus: helper
    return list(Book.objects.all())
