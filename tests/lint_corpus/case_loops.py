"""Plain loops over querysets."""

from django.db.models import Count

from tests.testapp.models import Author, Book, Chapter, Comment, Membership, Place, Publisher, Review


def fk_in_loop():
    out = []
    for book in Book.objects.all():
        out.append(book.author.name)  # expect: REL001
    return out


def fk_in_loop_select_related():
    out = []
    for book in Book.objects.select_related("author"):
        out.append(book.author.name)
    return out


def fk_in_loop_prefetch_related():
    return [book.author.name for book in Book.objects.prefetch_related("author")]


def second_hop_not_loaded():
    out = []
    for book in Book.objects.select_related("author"):
        out.append((book.author.name, book.author.publisher))  # expect: REL001
    return out


def second_hop_loaded():
    out = []
    for book in Book.objects.select_related("author__publisher"):
        out.append((book.author.name, book.author.publisher))
    return out


def reverse_fk_all_in_loop():
    total = 0
    for author in Author.objects.order_by("name"):
        for book in author.books.all():  # expect: REL001
            total += len(book.title)
    return total


def reverse_fk_prefetched():
    total = 0
    for author in Author.objects.prefetch_related("books"):
        for book in author.books.all():
            total += len(book.title)
    return total


def many_to_many_count_in_loop():
    return {book.pk: book.tags.count() for book in Book.objects.all()}  # expect: REL001


def many_to_many_count_prefetched():
    return {book.pk: book.tags.count() for book in Book.objects.prefetch_related("tags")}


def explicit_filter_in_loop_is_allowed():
    # A new query per author, but an explicit one: not a relation read.
    return [a.books.filter(title__startswith="B").count() for a in Author.objects.all()]


def foreign_key_id_only():
    return [book.author_id for book in Book.objects.all()]


def values_rows():
    return [row["author__name"] for row in Book.objects.values("author__name")]


def reverse_one_to_one_in_loop():
    bios = []
    for author in Author.objects.all():
        bios.append(author.profile.bio)  # expect: REL001
    return bios


def reverse_one_to_one_selected():
    return [author.profile.bio for author in Author.objects.select_related("profile")]


def generic_foreign_key_in_loop():
    return [comment.target for comment in Comment.objects.all()]  # expect: REL001


def generic_foreign_key_prefetched():
    return [comment.target for comment in Comment.objects.prefetch_related("target")]


def list_then_loop():
    books = list(Book.objects.filter(title__startswith="B"))
    names = []
    for book in books:
        names.append(book.editor)  # expect: REL001
    return names


def enumerate_loop():
    out = {}
    for i, chapter in enumerate(Chapter.objects.all()):
        out[i] = chapter.book.title  # expect: REL001
    return out


def iterator_loop():
    return [m.club.name for m in Membership.objects.iterator()]  # expect: REL001


def sliced_loop():
    return [r.created_by for r in Review.objects.order_by("-stars")[:10]]  # expect: REL001


def annotate_keeps_select_related():
    qs = Author.objects.select_related("publisher").annotate(n=Count("books"))
    return [(a.publisher, a.n) for a in qs]


def single_instance_read_is_not_n_plus_one():
    book = Book.objects.get(pk=1)
    return [book.author.name for _ in range(3)]


def get_inside_loop():
    names = []
    for pk in (1, 2, 3):
        place = Place.objects.get(pk=pk)
        names.append(place.owner)  # expect: REL001
    return names


def nested_prefetch_path():
    out = []
    for publisher in Publisher.objects.prefetch_related("authors__books"):
        for author in publisher.authors.all():
            for book in author.books.all():
                out.append(book.title)
    return out


def nested_prefetch_path_missing_last_hop():
    out = []
    for publisher in Publisher.objects.prefetch_related("authors"):
        for author in publisher.authors.all():
            out.append([b.title for b in author.books.all()])  # expect: REL001
    return out


def while_loop_with_get():
    pk, out = 1, []
    while pk < 4:
        review = Review.objects.get(pk=pk)
        out.append(review.book.title)  # expect: REL001
        pk += 1
    return out


def tag_membership_test():
    hits = 0
    for book in Book.objects.all():
        if book.tags.exists():  # expect: REL001
            hits += 1
    return hits
