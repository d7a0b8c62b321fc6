"""A data migration that reads relations on historical models.

Historical models (``apps.get_model`` inside ``RunPython``) carry the strict
descriptors too, yet they must keep Django's lazy loading whatever the settings:
migrations are framework code that a project cannot annotate with ``R()``.  This
migration runs while the test databases are set up, so a regression breaks the
set-up of the whole suite.

It creates its rows, reads every kind of relation a historical model has on
freshly fetched instances, checks the values, then deletes everything it created
(through the historical deletion collector), so that tests start from empty
tables.  What it read is kept in ``RESULTS`` (per database alias) for
tests/test_framework_paths.py.
"""

from typing import Any

from django.db import migrations
from django.test.utils import CaptureQueriesContext

PREFIX = "migration-0002"
RESULTS: dict[str, dict[str, Any]] = {}

EXPECTED = {
    "book.author.name": f"{PREFIX} author",
    "book.author.publisher.name": f"{PREFIX} publisher",
    "book.editor.mentor.name": f"{PREFIX} author",
    "book.tags": [f"{PREFIX} tag a", f"{PREFIX} tag b"],
    "book.tags.count()": 2,
    "author.books": [f"{PREFIX} book 1", f"{PREFIX} book 2"],
    "author.books.count()": 2,
    "author.mentees": [f"{PREFIX} mentee"],
    "author.profile.bio": f"{PREFIX} bio",
    "author.clubs": [f"{PREFIX} club"],
    "club.members": [f"{PREFIX} author", f"{PREFIX} mentee"],
    "tag.books": [f"{PREFIX} book 1"],
    "profile.author.name": f"{PREFIX} author",
    "restaurant.place_ptr.name": f"{PREFIX} restaurant",
    "restaurant.owner.name": f"{PREFIX} author",
    "place.restaurant.serves_pizza": True,
    "chapter.book.title": f"{PREFIX} book 1",
    "review.created_by.name": f"{PREFIX} mentee",
}


class HistoricalRelationsError(Exception):
    """Raised (not ``assert``: it must hold under ``python -O``) when a read is wrong."""


def forwards(apps: Any, schema_editor: Any) -> dict[str, Any]:
    alias = schema_editor.connection.alias
    Publisher = apps.get_model("testapp", "Publisher")
    Author = apps.get_model("testapp", "Author")
    Profile = apps.get_model("testapp", "Profile")
    Tag = apps.get_model("testapp", "Tag")
    Book = apps.get_model("testapp", "Book")
    Chapter = apps.get_model("testapp", "Chapter")
    Club = apps.get_model("testapp", "Club")
    Membership = apps.get_model("testapp", "Membership")
    Place = apps.get_model("testapp", "Place")
    Restaurant = apps.get_model("testapp", "Restaurant")
    Review = apps.get_model("testapp", "Review")

    def m(model: Any) -> Any:
        return model._default_manager.db_manager(alias)

    publisher = m(Publisher).create(name=f"{PREFIX} publisher")
    author = m(Author).create(name=f"{PREFIX} author", publisher=publisher)
    mentee = m(Author).create(name=f"{PREFIX} mentee", mentor=author)
    m(Profile).create(author=author, bio=f"{PREFIX} bio")
    tag_a = m(Tag).create(name=f"{PREFIX} tag a")
    tag_b = m(Tag).create(name=f"{PREFIX} tag b")
    book1 = m(Book).create(title=f"{PREFIX} book 1", author=author, editor=mentee)
    book2 = m(Book).create(title=f"{PREFIX} book 2", author=author)
    book1.tags.set([tag_a, tag_b])
    book2.tags.set([tag_b])
    chapter = m(Chapter).create(book=book1, number=1)
    review = m(Review).create(book=book1, created_by=mentee, stars=4)
    club = m(Club).create(name=f"{PREFIX} club")
    m(Membership).create(club=club, author=author)
    m(Membership).create(club=club, author=mentee)
    restaurant = m(Restaurant).create(name=f"{PREFIX} restaurant", owner=author, serves_pizza=True)

    # Every read below is on an instance fetched alone, with nothing loaded.
    def fresh(model: Any, obj: Any) -> Any:
        return m(model).get(pk=obj.pk)

    def names(objects: Any, attr: str = "name") -> list[str]:
        return sorted(getattr(o, attr) for o in objects)

    with CaptureQueriesContext(schema_editor.connection) as lazy_loads:
        read = {
            "book.author.name": fresh(Book, book1).author.name,
            "book.author.publisher.name": fresh(Book, book1).author.publisher.name,
            "book.editor.mentor.name": fresh(Book, book1).editor.mentor.name,
            "book.tags": names(fresh(Book, book1).tags.all()),
            "book.tags.count()": fresh(Book, book1).tags.count(),
            "author.books": names(fresh(Author, author).books.all(), "title"),
            "author.books.count()": fresh(Author, author).books.count(),
            "author.mentees": names(fresh(Author, author).mentees.all()),
            "author.profile.bio": fresh(Author, author).profile.bio,
            "author.clubs": names(fresh(Author, author).clubs.all()),
            "club.members": names(fresh(Club, club).members.all()),
            "tag.books": names(fresh(Tag, tag_a).books.all(), "title"),
            "profile.author.name": m(Profile).get(author_id=author.pk).author.name,
            "restaurant.place_ptr.name": fresh(Restaurant, restaurant).place_ptr.name,
            "restaurant.owner.name": fresh(Restaurant, restaurant).owner.name,
            "place.restaurant.serves_pizza": m(Place).get(pk=restaurant.pk).restaurant.serves_pizza,
            "chapter.book.title": fresh(Chapter, chapter).book.title,
            "review.created_by.name": fresh(Review, review).created_by.name,
        }
    if read != EXPECTED:
        wrong = {k: v for k, v in read.items() if EXPECTED.get(k) != v}
        raise HistoricalRelationsError(f"historical relations read wrong values: {wrong}")

    # Clean up through the historical deletion collector: the author cascades to its
    # books, their tag rows, chapters and reviews, its profile and memberships; the
    # mentee's mentor and the restaurant's owner are set to NULL.
    deleted = fresh(Author, author).delete()
    restaurant_deleted = fresh(Restaurant, restaurant).delete()
    for model, obj in ((Author, mentee), (Tag, tag_a), (Tag, tag_b), (Club, club), (Publisher, publisher)):
        fresh(model, obj).delete()
    created = {
        Publisher: [publisher.pk],
        Author: [author.pk, mentee.pk],
        Tag: [tag_a.pk, tag_b.pk],
        Book: [book1.pk, book2.pk],
        Chapter: [chapter.pk],
        Review: [review.pk],
        Club: [club.pk],
        Place: [restaurant.pk],
        Restaurant: [restaurant.pk],
    }
    left = {model.__name__: m(model).filter(pk__in=pks).count() for model, pks in created.items()}
    left["Profile"] = m(Profile).filter(author_id=author.pk).count()
    left["Membership"] = m(Membership).filter(club_id=club.pk).count()
    left["Book_tags"] = m(Book.tags.through).filter(book_id__in=created[Book]).count()
    if any(left.values()):
        raise HistoricalRelationsError(f"the migration left rows behind: {left}")

    RESULTS[alias] = {
        "read": read,
        "queries": len(lazy_loads),
        "deleted": deleted,
        "restaurant_deleted": restaurant_deleted,
    }
    return RESULTS[alias]


class Migration(migrations.Migration):
    dependencies = [("testapp", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=False)]
