"""async def bodies: nothing loads implicitly there, so any unloaded read raises."""

from asgiref.sync import sync_to_async

from relations import R, aprefetch
from tests.testapp.models import Author, Book


async def aget_then_read():
    book = await Book.objects.aget(pk=1)
    return book.author.name  # expect: REL002


async def aget_with_select_related():
    book = await Book.objects.select_related("author").aget(pk=1)
    return book.author.name


async def r_then_read():
    book = await Book.objects.aget(pk=1)
    await book.R("author")
    return book.author.name


async def r_result():
    book = await Book.objects.aget(pk=1)
    author = await book.R("author")
    return author.publisher  # expect: REL002


async def functional_r_with_a_path():
    book = await Book.objects.aget(pk=1)
    await R(book, "author__publisher")
    return book.author.publisher


async def async_for_read():
    names = []
    async for book in Book.objects.all():
        names.append(book.editor)  # expect: REL002
    return names


async def async_for_select_related():
    return [b.editor async for b in Book.objects.select_related("editor")]


async def aprefetch_the_list():
    books = [b async for b in Book.objects.all()]
    await aprefetch(books, "author", "tags")
    return [(b.author.name, [t.name for t in b.tags.all()]) for b in books]


async def aprefetch_misses_one():
    books = [b async for b in Book.objects.all()]
    await aprefetch(books, "author")
    return [[t.name for t in b.tags.all()] for b in books]  # expect: REL002


async def async_iteration_of_a_manager_is_explicit():
    author = await Author.objects.aget(pk=1)
    return [b.title async for b in author.books.all()]


async def acount_is_explicit():
    author = await Author.objects.aget(pk=1)
    return await author.books.acount()


async def sync_iteration_of_a_manager():
    author = await Author.objects.aget(pk=1)
    return [b.title for b in author.books.all()]  # expect: REL002


async def r_in_the_loop():
    out = []
    async for book in Book.objects.all():
        await book.R("author")
        out.append(book.author.name)
    return out


async def sync_to_async_list():
    books = await sync_to_async(list)(Book.objects.select_related("author"))
    return [b.author.name for b in books]


async def sync_to_async_list_missing():
    books = await sync_to_async(list)(Book.objects.all())
    return [b.author.name for b in books]  # expect: REL002


def fetch_title(book):  # corpus: helper
    return book.author.name


async def sync_helper_in_a_thread():
    book = await Book.objects.aget(pk=1)
    # The helper runs in a worker thread, where a lazy load is one plain query.
    return await sync_to_async(fetch_title)(book)


async def sync_helper_called_from_async_code():
    book = await Book.objects.aget(pk=1)
    return fetch_title(book)  # expect: REL003


async def async_helper(book):  # corpus: helper
    return book.editor


async def awaited_async_helper():
    return [await async_helper(b) async for b in Book.objects.all()]  # expect: REL003
