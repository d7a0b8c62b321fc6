"""Shapes from application code: views, exports, reports."""

import csv
import itertools

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render

from tests.testapp import models
from tests.testapp.models import Author, Book, Chapter, Club, Publisher, Review


def export_books_csv(request):
    response = HttpResponse(content_type="text/csv")
    writer = csv.writer(response)
    for book in Book.objects.order_by("title").only("title", "author"):
        writer.writerow([book.title, book.author.name])  # expect: REL001
    return response


def export_books_csv_fixed(request):
    response = HttpResponse(content_type="text/csv")
    writer = csv.writer(response)
    for book in Book.objects.select_related("author").order_by("title"):
        writer.writerow([book.title, book.author.name])
    return response


def author_detail(request, pk):
    author = get_object_or_404(Author, pk=pk)
    books = author.books.all()
    return render(request, "author.html", {"author": author, "books": books})


def author_detail_with_chapters(request, pk):
    author = get_object_or_404(Author.objects.prefetch_related("books"), pk=pk)
    chapters = {b.pk: [c.number for c in b.chapters.all()] for b in author.books.all()}  # expect: REL001
    return render(request, "author.html", {"author": author, "chapters": chapters})


def publisher_stats():
    stats = {}
    for publisher in Publisher.objects.prefetch_related("authors__books"):
        stats[publisher.name] = sum(len(a.books.all()) for a in publisher.authors.all())
    return stats


def module_attribute_models():
    return [b.author.name for b in models.Book.objects.all()]  # expect: REL001


def chained_iterables():
    books = itertools.chain(Book.objects.all(), Book.objects.none())
    return [b.author for b in books]  # expect: REL001


def zip_of_two_results():
    pairs = zip(Book.objects.all(), Author.objects.all(), strict=False)
    return [(b.editor, a.publisher) for b, a in pairs]  # expect: REL001


def in_bulk_values():
    return [b.author for b in Book.objects.in_bulk([1, 2]).values()]  # expect: REL001


def reviews_by_stars():
    top = Review.objects.filter(stars=5).select_related("book__author", "created_by")
    return [(r.book.title, r.book.author.name, r.created_by) for r in top]


def reviews_missing_deep_hop():
    top = Review.objects.filter(stars=5).select_related("book")
    return [(r.book.title, r.book.editor) for r in top]  # expect: REL001


def custom_manager_without_select_related():
    return [c.book.title for c in Chapter.objects.all()]  # expect: REL001


def through_model_members():
    out = []
    for club in Club.objects.prefetch_related("members"):
        out.append(sorted(m.name for m in club.members.all()))
    return out


def through_model_members_missing():
    return {club.name: club.members.count() for club in Club.objects.all()}  # expect: REL001


def first_per_item():
    out = []
    for author in Author.objects.all():
        book = author.books.order_by("-pk").first()
        if book is not None:
            out.append(book.editor)  # expect: REL001
    return out


def nested_function_closure():
    qs = Book.objects.all()

    def render_row(book):
        return (book.title, book.author.name)

    return [render_row(b) for b in qs]  # expect: REL003


def mentor_chain():
    return [(a.mentor, a.mentor.publisher) for a in Author.objects.select_related("mentor")]  # expect: REL001


def mentor_chain_loaded():
    return [(a.mentor, a.mentor.publisher) for a in Author.objects.select_related("mentor__publisher")]


def loop_over_ids_then_filter():
    out = []
    for pk in Book.objects.values_list("pk", flat=True):
        out.append(Book.objects.filter(pk=pk).select_related("author").get().author.name)
    return out


def reverse_generic_relation():
    return [len(b.comments.all()) for b in Book.objects.all()]  # expect: REL001


def reverse_generic_relation_prefetched():
    return [len(b.comments.all()) for b in Book.objects.prefetch_related("comments")]
