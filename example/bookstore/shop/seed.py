"""The bookstore's deterministic seed data, shared by ``manage.py demo`` and ``manage.py seed``.

The same rows with the same primary keys on every run, so the demo's query counts,
the views' HTML and the HTTP benchmark's pages are reproducible.
"""

from __future__ import annotations

import os
import random

from django.core.management import call_command
from django.db import connection, transaction

from .models import Author, Book, Comment, Profile, Publisher, Tag

SEED = 2024
N_PUBLISHERS = 20
N_AUTHORS = 200
N_BOOKS = 1_000
N_TAGS = 30


def recreate_database() -> None:
    """Start from an empty, migrated database.

    An SQLite file is deleted and migrated afresh; any other database (PostgreSQL)
    is migrated and then flushed, which also resets its sequences.
    """
    name = str(connection.settings_dict["NAME"])
    connection.close()
    if connection.vendor == "sqlite":
        if name != ":memory:" and not name.startswith("file:"):
            for suffix in ("", "-journal", "-wal", "-shm"):
                if os.path.exists(name + suffix):
                    os.remove(name + suffix)
        call_command("migrate", verbosity=0, interactive=False)
    else:
        call_command("migrate", verbosity=0, interactive=False)
        call_command("flush", verbosity=0, interactive=False)


@transaction.atomic
def seed() -> dict[str, int]:
    """Deterministic data: the same rows, with the same primary keys, every run."""
    rng = random.Random(SEED)
    first = ["Ada", "Ben", "Cleo", "Dev", "Eva", "Finn", "Gia", "Hal", "Iris", "Jon"]
    last = [
        "Moss",
        "Reed",
        "Stone",
        "Vale",
        "Wren",
        "Ash",
        "Birch",
        "Cole",
        "Drake",
        "Frost",
        "Grey",
        "Hart",
        "Knox",
        "Lane",
        "Marsh",
        "Nash",
        "Oak",
        "Park",
        "Quill",
        "Rowe",
    ]
    words = [
        "Silent",
        "River",
        "Glass",
        "Winter",
        "Harbor",
        "Crimson",
        "Paper",
        "Iron",
        "Quiet",
        "Garden",
        "North",
        "Ember",
        "Salt",
        "Hollow",
        "Lantern",
        "Atlas",
        "Copper",
        "Orchard",
    ]
    topics = [
        "fiction",
        "poetry",
        "essay",
        "history",
        "science",
        "travel",
        "cooking",
        "crime",
        "fantasy",
        "biography",
        "art",
        "music",
        "philosophy",
        "nature",
        "children",
        "humor",
        "drama",
        "romance",
        "horror",
        "politics",
        "economics",
        "sport",
        "design",
        "film",
        "religion",
        "myth",
        "language",
        "health",
        "education",
        "technology",
    ]

    publishers = Publisher.objects.bulk_create(
        Publisher(pk=i, name=f"{words[i % len(words)]} {['Press', 'House', 'Books'][i % 3]} {i}")
        for i in range(1, N_PUBLISHERS + 1)
    )
    authors = Author.objects.bulk_create(
        Author(pk=i, name=f"{first[i % 10]} {last[(i // 10) % 20]}", publisher=publishers[i % N_PUBLISHERS])
        for i in range(1, N_AUTHORS + 1)
    )
    tags = Tag.objects.bulk_create(Tag(pk=i, name=topics[i - 1]) for i in range(1, N_TAGS + 1))
    books = Book.objects.bulk_create(
        Book(
            pk=i,
            title=f"The {rng.choice(words)} {rng.choice(words)}",
            author=authors[rng.randrange(N_AUTHORS)],
        )
        for i in range(1, N_BOOKS + 1)
    )
    through = Book.tags.through
    links = [
        through(book_id=book.pk, tag_id=tag.pk)
        for book in books
        for tag in rng.sample(tags, rng.randint(0, 3))
    ]
    through.objects.bulk_create(links)
    profiles = Profile.objects.bulk_create(
        Profile(author=author, bio=f"{author.name} writes.") for author in authors[::4]
    )
    book_type = Comment._meta.get_field("content_type").related_model.objects.get_for_model(Book)
    author_type = Comment._meta.get_field("content_type").related_model.objects.get_for_model(Author)
    comments = [
        # Book 1, the one the demo looks at, gets two comments; the rest are spread out.
        Comment(
            content_type=book_type,
            object_id=1 if i <= 2 else rng.randint(1, N_BOOKS),
            text=f"Comment {i} on a book",
        )
        for i in range(1, 201)
    ] + [
        Comment(
            content_type=author_type,
            object_id=rng.randint(1, N_AUTHORS),
            text=f"Comment {i} on an author",
        )
        for i in range(201, 301)
    ]
    Comment.objects.bulk_create(comments)
    return {
        "publishers": len(publishers),
        "authors": len(authors),
        "books": len(books),
        "tags": len(tags),
        "book-tag links": len(links),
        "profiles": len(profiles),
        "comments": len(comments),
    }
