"""Helpers that other corpus files import (their cases are there)."""


def byline(book):  # corpus: helper
    return f"{book.title} by {book.author.name}"


def tag_names(book):  # corpus: helper
    return ", ".join(t.name for t in book.tags.all())


def title_only(book):  # corpus: helper
    return book.title.upper()
