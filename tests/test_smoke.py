import pytest

from relations import R, RelationNotLoaded, aprefetch, prefetch, UnknownRelation
from tests.conftest import queries, run
from tests.testapp.models import Author, Book, Comment, Restaurant


def test_forward_fk_raises_then_loads(data):
    book = Book.objects.get(title="B1")
    with pytest.raises(RelationNotLoaded) as exc:
        book.author
    print(exc.value)
    with queries() as q:
        author = book.R("author").sync()
    assert len(q) == 1
    with queries() as q:
        assert book.author is author
    assert len(q) == 0


def test_async_paths(data):
    async def go():
        book = await Book.objects.aget(title="B1")
        pub = await book.R("author__publisher")
        tags = await book.R("tags")
        comments = await book.R("comments")
        return book, pub, tags, comments

    with queries() as q:
        book, pub, tags, comments = run(go)
    print([x["sql"] for x in q.captured_queries])
    assert pub.name == "Penguin"
    assert sorted(t.name for t in tags) == ["poetry", "sf"]
    assert len(comments) == 2
    with queries() as q:
        assert book.author.publisher is pub
        assert len(book.tags.all()) == 2
        assert len(book.comments.all()) == 2
    assert len(q) == 0


def test_prefetch(data):
    books = list(Book.objects.all())
    with queries() as q:
        prefetch(books, "author__profile", "tags", "editor")
    print([x["sql"] for x in q.captured_queries])
    with queries() as q:
        for b in books:
            b.author.name
            list(b.tags.all())
    assert len(q) == 0


def test_gfk(data):
    comments = list(Comment.objects.order_by("pk"))
    with pytest.raises(RelationNotLoaded):
        comments[0].target
    assert comments[3].target is None
    with queries() as q:
        prefetch(comments, "target")
    print([x["sql"] for x in q.captured_queries])
    with queries() as q:
        assert comments[0].target.title == "B1"
        assert comments[2].target.name == "Bob"
    assert len(q) == 0


def test_unknown(data):
    book = Book.objects.first()
    with pytest.raises(UnknownRelation) as exc:
        book.R("autor")
    print(exc.value)
    with pytest.raises(UnknownRelation) as exc:
        book.R("title")
    print(exc.value)


def test_reverse_many_guard(data):
    a = Author.objects.get(name="Ada")
    with pytest.raises(RelationNotLoaded) as exc:
        list(a.books.all())
    print(exc.value)
    assert a.books.filter(title="B1").count() == 1
    with pytest.raises(RelationNotLoaded):
        a.books.count()
    books = a.R("books").sync()
    assert len(books) == 2
    assert a.books.count() == 2
    r = Restaurant.objects.get()
    assert r.place_ptr.name == "Luigi's"
