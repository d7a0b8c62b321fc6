"""The native async drivers give the same instances as the sync ORM (issue 3, item 5).

Hypothesis generates rows with every common field type (``tests.fieldtypes``),
inserts them with the sync ORM, then runs query shapes (filters on each type,
ordering, ``select_related``, ``only()``/``defer()``, annotations, subqueries,
DISTINCT with extra ordering columns, literal ``%``, slices, empty results, 6.1
fetch modes) twice: once with ``sync.evaluate`` (plain Django) and once with
``native.execute`` (aiosqlite / psycopg in an event loop), and compares the
instances field by field: values *and* types, including the tzinfo of datetimes,
the exponent of Decimals, float signs, JSON key order, deferred fields,
annotations, ``select_related`` caches, peer groups and which objects are shared
(a backref must be the very parent on both sides).  ``aprefetch`` with
``Prefetch(queryset=...select_related(...))`` (sliced too) and ``await R()`` are
compared with their sync forms the same way, on "default" and on "other".

Native connections are separate sessions, so the tests commit their rows
(``transaction=True``) and each example deletes the previous one's rows first.
Examples are derandomized (same examples on every run) and few, so a test takes
seconds.

Naive datetimes: with ``USE_TZ=True`` (the suite's setting) Django stores every
datetime as aware UTC and warns on naive input, so naive values only mean
something with ``USE_TZ=False``; ``test_naive_datetimes_with_use_tz_off`` switches
it with ``override_settings`` (Django resets its connections' time zone on that
signal, and the native connections are opened after the switch).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from asgiref.sync import async_to_sync
from django.db import models
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    DecimalField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    JSONField,
    Max,
    Min,
    Model,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, ExtractHour, ExtractYear, Lower, TruncDate
from django.test.utils import override_settings
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from relations import aprefetch, peers, prefetch
from relations.drivers import native, sync
from relations.loaders.tasks import Fetch
from tests.fieldtypes.models import Kind, Owner, Sample, Status

EXAMPLES = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI stays deterministic
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Run the native side on this driver; everything else in the file is driver-agnostic.
NATIVE_EXECUTE = native.execute
NATIVE = {"ASYNC_DRIVER": "native"}

pytestmark = pytest.mark.django_db(transaction=True)

# --- strategies --------------------------------------------------------------------------------------------

# PostgreSQL rejects NUL in text and JSON; surrogates are not valid UTF-8.
TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12)
ZONES = st.sampled_from(
    [
        dt.UTC,
        ZoneInfo("Europe/Paris"),
        ZoneInfo("Asia/Kolkata"),
        dt.timezone(dt.timedelta(hours=-9, minutes=-30)),
    ]
)
# One day of margin at both ends: the conversion to UTC must stay within Python's years.
AWARE = st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=ZONES)
DURATIONS = st.timedeltas(min_value=dt.timedelta(days=-100_000), max_value=dt.timedelta(days=100_000))
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
JSON_NULL = "json-null"  # the JSON value null, as opposed to SQL NULL (None)
# Django 6.1 spells the JSON null value JSONNull() (None in a lookup is deprecated there).
JSON_NULL_VALUE = getattr(models, "JSONNull", lambda: Value(None, JSONField()))()


def decimals(max_digits: int, places: int) -> st.SearchStrategy[Decimal]:
    bound = Decimal(10) ** (max_digits - places) - Decimal(10) ** -places
    return st.decimals(
        min_value=-bound, max_value=bound, places=places, allow_nan=False, allow_infinity=False
    )


def nullable(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


SAMPLE = st.fixed_dictionaries(
    {
        "owner": st.integers(0, 2),
        "kind": nullable(st.integers(0, 2)),
        "tags": st.sets(st.integers(0, 2), max_size=3),
        "at": AWARE,
        "at_null": nullable(AWARE),
        "day": st.dates(),
        "day_null": nullable(st.dates()),
        "clock": st.times(),
        "clock_null": nullable(st.times()),
        "span": DURATIONS,
        "span_null": nullable(DURATIONS),
        "price": decimals(12, 2),
        "rate": decimals(15, 10),
        "whole": decimals(5, 0),
        "price_null": nullable(decimals(12, 2)),
        "ratio": st.floats(allow_nan=False, allow_subnormal=False),
        "ratio_null": nullable(st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=False)),
        "flag": st.booleans(),
        "maybe": nullable(st.booleans()),
        "data": st.none() | st.just(JSON_NULL) | JSON,
        "uid": st.uuids(),
        "uid_null": nullable(st.uuids()),
        "blob": st.binary(max_size=40),
        "blob_null": nullable(st.binary(max_size=40)),
        "big": st.integers(-(2**63), 2**63 - 1) | st.sampled_from([-(2**63), 2**63 - 1, 0]),
        "big_null": nullable(st.integers(-(2**63), 2**63 - 1)),
        "small": st.integers(-32768, 32767),
        "status": st.sampled_from(Status.values),
        "label": nullable(TEXT),
        "text": TEXT,
    }
)
KIND = st.fixed_dictionaries(
    {
        "id": st.uuids(),
        "code": st.sampled_from(Status.values),
        "weight": nullable(decimals(9, 3)),
        "seen": nullable(AWARE),
        "parent": nullable(st.integers(0, 2)),
    }
)
OWNER = st.fixed_dictionaries({"name": TEXT, "born": nullable(st.dates())})
DATASET = st.fixed_dictionaries(
    {
        "owners": st.lists(OWNER, min_size=1, max_size=3),
        "kinds": st.lists(KIND, max_size=3, unique_by=lambda k: k["id"]),
        "samples": st.lists(SAMPLE, min_size=1, max_size=5),
    }
)


def insert(dataset: dict[str, Any], using: str = "default") -> dict[str, Any]:
    """Replace every fieldtypes row with ``dataset``; return the first sample's values."""
    Sample.objects.using(using).all().delete()
    Kind.objects.using(using).all().delete()
    Owner.objects.using(using).all().delete()
    owners = [Owner.objects.using(using).create(**values) for values in dataset["owners"]]
    kinds: list[Kind] = []
    for values in dataset["kinds"]:
        parent = values["parent"]
        # Only an earlier kind can be a parent, or a kind its own.
        parent_obj = kinds[parent % len(kinds)] if parent is not None and kinds else None
        kinds.append(Kind.objects.using(using).create(**{**values, "parent": parent_obj}))
    for values in dataset["samples"]:
        row = dict(values)
        row["owner"] = owners[row["owner"] % len(owners)]
        row["kind"] = kinds[row["kind"] % len(kinds)] if row["kind"] is not None and kinds else None
        tag_indexes = row.pop("tags")
        tags = {kinds[t % len(kinds)] for t in tag_indexes} if kinds else set()
        if row["data"] == JSON_NULL:
            row["data"] = JSON_NULL_VALUE
        sample = Sample.objects.using(using).create(**row)
        sample.tags.set(tags)
    first = dict(dataset["samples"][0])
    if first["data"] == JSON_NULL:
        first["data"] = None
    return first


# --- comparison --------------------------------------------------------------------------------------------


class Pairs:
    """Which native object stands for which sync object: shared objects (a backref
    that *is* the parent, one instance in two caches) must be shared on both sides."""

    def __init__(self) -> None:
        self.native_of: dict[int, int] = {}
        self.sync_of: dict[int, int] = {}

    def first_meeting(self, a: Any, b: Any, where: str) -> bool:
        known_b, known_a = self.native_of.get(id(a)), self.sync_of.get(id(b))
        if known_b is None and known_a is None:
            self.native_of[id(a)], self.sync_of[id(b)] = id(b), id(a)
            return True
        assert known_b == id(b) and known_a == id(a), f"{where}: object identity differs between the drivers"
        return False


def same(a: Any, b: Any, where: str, seen: Pairs | None = None) -> None:
    """Assert that ``a`` (sync) and ``b`` (native) are the same value of the same type."""
    seen = Pairs() if seen is None else seen
    assert type(a) is type(b), (
        f"{where}: {type(a).__name__} (sync) != {type(b).__name__} (native): {a!r} / {b!r}"
    )
    if isinstance(a, Model):
        if seen.first_meeting(a, b, where):
            same_instance(a, b, where, seen)
    elif isinstance(a, float):
        assert repr(a) == repr(b), f"{where}: {a!r} (sync) != {b!r} (native)"  # repr: -0.0 and inf too
    elif isinstance(a, Decimal):
        assert a.as_tuple() == b.as_tuple(), f"{where}: {a!r} (sync) != {b!r} (native)"  # exponent too
    elif isinstance(a, dt.date | dt.time | dt.timedelta):
        # repr shows the tzinfo's class and key (UTC vs ZoneInfo("UTC") vs an offset) and fold.
        assert repr(a) == repr(b) and a == b, f"{where}: {a!r} (sync) != {b!r} (native)"
        if isinstance(a, dt.datetime | dt.time):
            assert a.fold == b.fold, f"{where}: fold {a.fold} != {b.fold}"
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)!r} (sync) != {list(b)!r} (native)"
        for key in a:
            same(a[key], b[key], f"{where}[{key!r}]", seen)
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), f"{where}: {len(a)} items (sync) != {len(b)} (native)"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]", seen)
    elif isinstance(a, QuerySet):
        assert a._result_cache is not None and b._result_cache is not None, f"{where}: queryset not filled"
        same(sorted_rows(a._result_cache), sorted_rows(b._result_cache), f"{where}<qs>", seen)
    elif isinstance(a, memoryview):
        assert bytes(a) == bytes(b), f"{where}: {bytes(a)!r} (sync) != {bytes(b)!r} (native)"
    else:
        assert a == b, f"{where}: {a!r} (sync) != {b!r} (native)"


def same_instance(a: Model, b: Model, where: str, seen: Pairs) -> None:
    where = f"{where}<{type(a).__name__} pk={a.pk!r}>"
    attrs_a = {k: v for k, v in a.__dict__.items() if k not in ("_state", "_prefetched_objects_cache")}
    attrs_b = {k: v for k, v in b.__dict__.items() if k not in ("_state", "_prefetched_objects_cache")}
    assert sorted(attrs_a) == sorted(attrs_b), (
        f"{where}: attributes differ: only sync {sorted(set(attrs_a) - set(attrs_b))}, "
        f"only native {sorted(set(attrs_b) - set(attrs_a))}"
    )
    for name, value in attrs_a.items():
        same(value, attrs_b[name], f"{where}.{name}", seen)
    assert a.get_deferred_fields() == b.get_deferred_fields(), f"{where}: deferred fields differ"
    assert (a._state.db, a._state.adding) == (b._state.db, b._state.adding), f"{where}: _state differs"
    mode_a, mode_b = getattr(a._state, "fetch_mode", None), getattr(b._state, "fetch_mode", None)
    assert type(mode_a) is type(mode_b), f"{where}: fetch_mode {mode_a!r} (sync) != {mode_b!r} (native)"
    django_peers_a, django_peers_b = getattr(a._state, "peers", ()), getattr(b._state, "peers", ())  # 6.1
    assert len(django_peers_a) == len(django_peers_b), f"{where}: Django's FETCH_PEERS peers differ"
    group_a, group_b = peers.group_of(a), peers.group_of(b)
    size_a = None if group_a is None else len(group_a.live())
    size_b = None if group_b is None else len(group_b.live())
    assert size_a == size_b, f"{where}: peer group of {size_a} (sync) != {size_b} (native)"
    same(
        dict(sorted(a._state.fields_cache.items())), dict(sorted(b._state.fields_cache.items())), where, seen
    )
    cache_a = getattr(a, "_prefetched_objects_cache", None)
    cache_b = getattr(b, "_prefetched_objects_cache", None)
    assert (cache_a is None) == (cache_b is None), f"{where}: prefetched cache only on one side"
    if cache_a is not None and cache_b is not None:
        same(dict(sorted(cache_a.items())), dict(sorted(cache_b.items())), f"{where}<prefetched>", seen)


def sorted_rows(rows: Iterable[Any]) -> list[Any]:
    """Rows in primary-key order (for results whose order SQL leaves open)."""
    return sorted(rows, key=lambda obj: str(obj.pk))


def run_native(body: Callable[[], Any]) -> Any:
    """Run the coroutine function ``body`` in a fresh event loop; close the native connections after."""

    async def wrapper() -> Any:
        try:
            return await body()
        finally:
            await native.aclose()

    return async_to_sync(wrapper)()


# --- query shapes ------------------------------------------------------------------------------------------

Shape = Callable[[dict[str, Any]], QuerySet[Any]]
S = Sample.objects

SHAPES: dict[str, dict[str, Shape]] = {
    "datetime": {
        "all": lambda r: S.all(),
        "at exact": lambda r: S.filter(at=r["at"]),
        "at range ordered": lambda r: S.filter(at__gte=r["at"]).order_by("-at", "pk"),
        "at year/hour lookups": lambda r: S.filter(at__year__gte=r["at"].year - 1, at__hour__lte=23),
        "at_null isnull": lambda r: S.filter(at_null__isnull=True),
        "at_null nulls last": lambda r: S.order_by(F("at_null").asc(nulls_last=True), "pk"),
        "truncate and extract": lambda r: S.annotate(
            d=TruncDate("at"), y=ExtractYear("at"), h=ExtractHour("at")
        ),
        "max datetime of kinds": lambda r: Kind.objects.annotate(last=Max("samples__at")).order_by("pk"),
        "datetime arithmetic": lambda r: S.annotate(
            shifted=ExpressionWrapper(F("at") + dt.timedelta(days=0), output_field=DateTimeField())
        ),
    },
    "date, time, duration": {
        "day lte ordered": lambda r: S.filter(day__lte=r["day"]).order_by("-day", "pk"),
        "day_null nulls first": lambda r: S.order_by(F("day_null").desc(nulls_first=True), "pk"),
        "clock gt or hour": lambda r: S.filter(Q(clock__gt=r["clock"]) | Q(clock__hour=r["clock"].hour)),
        "clock_null": lambda r: S.filter(clock_null__isnull=False).order_by("clock_null", "pk"),
        "span lte": lambda r: S.filter(span__lte=r["span"]).order_by("span", "pk"),
        "span arithmetic": lambda r: S.annotate(
            longer=ExpressionWrapper(F("span") + Value(dt.timedelta(seconds=1)), output_field=DurationField())
        ),
        "span_null": lambda r: S.filter(span_null__isnull=True),
    },
    "numbers": {
        "price exact": lambda r: S.filter(price=r["price"]),
        "price gt": lambda r: S.filter(price__gt=r["price"]).order_by("-price", "pk"),
        "rate ordered": lambda r: S.order_by("rate", "pk"),
        "decimal arithmetic": lambda r: S.annotate(
            total=ExpressionWrapper(
                F("price") + F("rate"), output_field=DecimalField(max_digits=25, decimal_places=10)
            )
        ),
        "whole in": lambda r: S.filter(whole__in=[r["whole"], Decimal(0)]),
        "price_null coalesce": lambda r: S.annotate(p=Coalesce("price_null", Value(Decimal("0.00")))),
        "ratio lte": lambda r: S.filter(ratio__lte=r["ratio"]).order_by("ratio", "pk"),
        "ratio negated": lambda r: S.annotate(neg=F("ratio") * -1),
        "big gte": lambda r: S.filter(big__gte=r["big"]).order_by("-big", "pk"),
        "big_null": lambda r: S.filter(big_null__isnull=False),
        "small arithmetic": lambda r: S.annotate(s=F("small") + 1),
        "sum and count per owner": lambda r: Owner.objects.annotate(
            total=Sum("samples__price"), n=Count("samples"), least=Min("samples__ratio")
        ).order_by("pk"),
    },
    "bool and json": {
        "flag": lambda r: S.filter(flag=r["flag"]),
        "maybe isnull": lambda r: S.filter(maybe__isnull=True),
        "maybe coalesce": lambda r: S.annotate(m=Coalesce("maybe", Value(False))),
        "data SQL NULL": lambda r: S.filter(data__isnull=True),
        "data JSON null": lambda r: S.filter(data=JSON_NULL_VALUE),
        "data has_key": lambda r: S.filter(
            data__has_key=next(iter(r["data"]), "k") if isinstance(r["data"], dict) else "k"
        ),
        "data key text": lambda r: S.annotate(k=KT("data__k")),
        "data not null ordered": lambda r: S.exclude(data__isnull=True).order_by("pk"),
    },
    "uuid, binary, choices, text": {
        "uid exact": lambda r: S.filter(uid=r["uid"]),
        "uid ordered": lambda r: S.order_by("uid", "pk"),
        "uid_null": lambda r: S.filter(uid_null__isnull=False),
        "blob exact": lambda r: S.filter(blob=r["blob"]),
        "blob_null": lambda r: S.filter(blob_null__isnull=True),
        "status in": lambda r: S.filter(status__in=[r["status"], Status.GONE]).order_by("status", "pk"),
        "text icontains": lambda r: S.filter(text__icontains=r["text"][:2]),
        "text regex": lambda r: S.filter(text__regex=r"^.?$"),
        "label lower": lambda r: S.annotate(low=Lower("label")).order_by("label", "pk"),
    },
    "sql details": {
        # DISTINCT with ORDER BY on another table: Django selects extra columns and trims them.
        "distinct ordered by related": lambda r: (
            S.filter(tags__isnull=False).distinct().order_by("kind__code", "pk")
        ),
        "ordered by an expression, distinct": lambda r: S.order_by(Lower("text").desc(), "pk").distinct(),
        "exists": lambda r: S.annotate(tagged=Exists(Kind.objects.filter(tagged=OuterRef("pk")))),
        "subquery": lambda r: S.annotate(
            parent_code=Subquery(Kind.objects.filter(pk=OuterRef("kind__parent")).values("code")[:1])
        ),
        "having": lambda r: Kind.objects.annotate(n=Count("tagged")).filter(n__gte=1),
        "raw sql with a literal percent": lambda r: S.annotate(lit=RawSQL("'50%%'", ())),
        "like with percent and underscore": lambda r: S.filter(
            Q(text__contains="%") | Q(text__startswith="_") | Q(label__endswith="'")
        ),
        "case when": lambda r: S.annotate(
            band=Case(When(price__gt=0, then=Value("up")), default=Value("down"))
        ).order_by("band", "pk"),
    },
    "relations and shapes": {
        "select_related": lambda r: S.select_related("kind__parent", "owner"),
        "select_related null fk": lambda r: S.select_related("kind").filter(kind__isnull=True),
        "filter across fk": lambda r: S.filter(kind__code=Status.LIVE).select_related("kind"),
        "filter by uuid fk": lambda r: S.filter(kind__in=Kind.objects.all()),
        "only": lambda r: S.only("at", "price", "data"),
        "defer": lambda r: S.defer("blob", "data", "text"),
        "only with select_related": lambda r: S.select_related("kind").only("at", "kind__code", "kind__seen"),
        "count tags": lambda r: S.annotate(n=Count("tags")).order_by("-n", "pk"),
        "related values": lambda r: S.annotate(kind_code=F("kind__code"), owner_name=F("owner__name")),
        "m2m distinct": lambda r: S.filter(tags__isnull=False).distinct(),
        "kinds with parents": lambda r: Kind.objects.select_related("parent").annotate(n=Count("tagged")),
        "owners": lambda r: Owner.objects.all(),
        "slice": lambda r: S.order_by("pk")[1:3],
        "none": lambda r: S.none(),
        "empty in": lambda r: S.filter(pk__in=[]),
    },
}


if hasattr(QuerySet, "fetch_mode"):  # Django 6.1: the instances carry the queryset's fetch mode
    SHAPES["relations and shapes"]["fetch mode peers"] = lambda r: S.fetch_mode(models.FETCH_PEERS)
    SHAPES["relations and shapes"]["fetch mode raise, select_related"] = lambda r: S.fetch_mode(
        models.FETCH_RAISE
    ).select_related("kind")


def compare(sync_rows: list[Any], native_rows: list[Any], queryset: QuerySet[Any], where: str) -> None:
    if not queryset.ordered:
        sync_rows, native_rows = sorted_rows(sync_rows), sorted_rows(native_rows)
    same(sync_rows, native_rows, where)


@pytest.mark.parametrize("family", list(SHAPES))
@EXAMPLES
@given(dataset=DATASET)
def test_query_shapes_give_identical_instances(family: str, dataset: dict[str, Any]) -> None:
    first = insert(dataset)
    shapes = SHAPES[family]
    expected: dict[str, Any] = {}
    for name, shape in shapes.items():
        try:
            expected[name] = sync.evaluate(Fetch(shape(first)))
        except Exception as exc:  # the native driver must then fail the same way
            expected[name] = exc

    async def native_side() -> dict[str, Any]:
        got: dict[str, Any] = {}
        for name, shape in shapes.items():
            try:
                got[name] = await NATIVE_EXECUTE(Fetch(shape(first)))
            except Exception as exc:
                got[name] = exc
        return got

    got = run_native(native_side)
    problems = []
    for name, shape in shapes.items():
        want, have = expected[name], got[name]
        try:
            if isinstance(want, Exception) or isinstance(have, Exception):
                note(f"{name}: sync {want!r} / native {have!r}")
                assert type(want) is type(have), f"{name}: sync gave {want!r}, native {have!r}"
            else:
                compare(want, have, shape(first), name)
        except AssertionError as exc:
            problems.append(str(exc))
    assert not problems, "\n".join(problems)
    # Not vacuous: the unfiltered shapes saw every row.
    if "all" in expected:
        assert len(expected["all"]) == len(dataset["samples"])


def test_the_shapes_find_rows() -> None:
    """The equality filters match the row they were built from (so those shapes compare rows)."""
    first = insert(
        {
            "owners": [{"name": "o", "born": None}],
            "kinds": [],
            "samples": [_fixed_sample()],
        }
    )
    for family, name in [
        ("datetime", "at exact"),
        ("numbers", "price exact"),
        ("uuid, binary, choices, text", "uid exact"),
        ("uuid, binary, choices, text", "blob exact"),
        ("bool and json", "flag"),
    ]:
        queryset = SHAPES[family][name](first)
        assert len(sync.evaluate(Fetch(queryset))) == 1, name
        assert len(run_native(lambda q=queryset: NATIVE_EXECUTE(Fetch(q)))) == 1, name


def _fixed_sample() -> dict[str, Any]:
    return {
        "owner": 0,
        "kind": None,
        "tags": set(),
        "at": dt.datetime(2024, 3, 31, 1, 30, 0, 123456, tzinfo=ZoneInfo("Europe/Paris")),
        "at_null": None,
        "day": dt.date(2024, 2, 29),
        "day_null": None,
        "clock": dt.time(23, 59, 59, 999999),
        "clock_null": None,
        "span": dt.timedelta(days=-1, microseconds=1),
        "span_null": None,
        "price": Decimal("-12345.60"),
        "rate": Decimal("0.0000000001"),
        "whole": Decimal("99999"),
        "price_null": None,
        "ratio": -0.0,
        "ratio_null": None,
        "flag": True,
        "maybe": None,
        "data": {"k": ["é", {"z": None}], "a": 1.5},
        "uid": uuid.UUID(int=2**128 - 1),
        "uid_null": None,
        "blob": b"\x00\xff",
        "blob_null": None,
        "big": -(2**63),
        "big_null": 2**63 - 1,
        "small": -32768,
        "status": Status.GONE,
        "label": None,
        "text": "50% _off_ 'quoted' ✓",
    }


# --- aprefetch with Prefetch(queryset=...select_related(...)), and R() -------------------------------------

PREFETCHES: dict[str, tuple[type[Model], list[Any]]] = {
    "forward fk and m2m": (Sample, ["kind", "owner", "tags"]),
    "reverse fk with select_related": (
        Owner,
        [Prefetch("samples", queryset=Sample.objects.select_related("kind__parent").order_by("pk"))],
    ),
    "reverse fk, only + annotation, to_attr": (
        Owner,
        [
            Prefetch(
                "samples",
                queryset=Sample.objects.only("at", "price", "owner").annotate(n=Count("tags")).order_by("pk"),
                to_attr="sample_list",
            )
        ],
    ),
    "m2m with select_related": (
        Sample,
        [Prefetch("tags", queryset=Kind.objects.select_related("parent").order_by("pk"))],
    ),
    "reverse m2m with select_related, then self fk": (
        Kind,
        [Prefetch("tagged", queryset=Sample.objects.select_related("owner").order_by("pk")), "children"],
    ),
    "path through three hops": (Owner, ["samples__kind__parent"]),
    # A sliced Prefetch queryset: Django filters it with a window function.
    # (to_attr: Django itself cannot store a sliced queryset as the manager's cache)
    "sliced reverse fk": (
        Owner,
        [Prefetch("samples", queryset=Sample.objects.order_by("-at", "pk")[:2], to_attr="latest")],
    ),
    "sliced m2m": (
        Kind,
        [Prefetch("tagged", queryset=Sample.objects.order_by("pk")[1:3], to_attr="some")],
    ),
}


@pytest.mark.parametrize("name", list(PREFETCHES))
@EXAMPLES
@given(dataset=DATASET)
def test_aprefetch_matches_prefetch(name: str, dataset: dict[str, Any]) -> None:
    insert(dataset)
    model, lookups = PREFETCHES[name]
    expected = prefetch(list(model.objects.order_by("pk")), *lookups)
    instances = list(model.objects.order_by("pk"))

    async def native_side() -> list[Model]:
        return await aprefetch(instances, *lookups)

    with override_settings(RELATIONS=NATIVE):
        got = run_native(native_side)
    same(expected, got, name)


@EXAMPLES
@given(dataset=DATASET)
def test_awaited_r_matches_sync_r(dataset: dict[str, Any]) -> None:
    insert(dataset)
    paths = ("kind", "owner", "tags", "kind__parent", "owner__samples")
    expected_samples = list(Sample.objects.order_by("pk"))
    expected = [[s.R(path).sync() for path in paths] for s in expected_samples]
    samples = list(Sample.objects.order_by("pk"))

    async def native_side() -> list[list[Any]]:
        return [[await s.R(path) for path in paths] for s in samples]

    with override_settings(RELATIONS=NATIVE):
        got = run_native(native_side)
    for i, (want, have) in enumerate(zip(expected, got, strict=True)):
        for path, w, h in zip(paths, want, have, strict=True):
            if isinstance(w, list):
                w, h = sorted_rows(w), sorted_rows(h)
            same(w, h, f"sample[{i}].R({path!r})")
    same(expected_samples, samples, "samples after R()")


@pytest.mark.django_db(transaction=True, databases=["default", "other"])
@EXAMPLES
@given(dataset=DATASET)
def test_another_database_alias(dataset: dict[str, Any]) -> None:
    """Rows on the "other" database: the native driver runs each query on its queryset's alias."""
    insert(dataset, using="other")
    Sample.objects.all().delete()  # "default" must not answer for "other"
    shapes = [
        Sample.objects.using("other").select_related("kind__parent", "owner").order_by("pk"),
        Owner.objects.using("other").annotate(n=Count("samples")).order_by("pk"),
    ]
    expected = [sync.evaluate(Fetch(q)) for q in shapes]
    assert len(expected[0]) == len(dataset["samples"])
    owners_sync = prefetch(list(Owner.objects.using("other").order_by("pk")), "samples__tags")
    owners = list(Owner.objects.using("other").order_by("pk"))

    async def native_side() -> tuple[list[list[Any]], list[Owner]]:
        got = [await NATIVE_EXECUTE(Fetch(q.all())) for q in shapes]
        return got, await aprefetch(owners, "samples__tags")

    with override_settings(RELATIONS=NATIVE):
        got, owners_native = run_native(native_side)
    same(expected, got, "other alias")
    same(owners_sync, owners_native, "other alias aprefetch")


@override_settings(USE_TZ=False)
@EXAMPLES
@given(
    moments=st.lists(
        st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)),
        min_size=1,
        max_size=5,
    )
)
def test_naive_datetimes_with_use_tz_off(moments: list[dt.datetime]) -> None:
    insert(
        {
            "owners": [{"name": "o", "born": None}],
            "kinds": [],
            "samples": [{**_fixed_sample(), "at": moment, "at_null": moment} for moment in moments],
        }
    )
    shapes = [
        S.order_by("pk"),
        S.filter(at__gte=moments[0]).order_by("at", "pk"),
        S.annotate(d=TruncDate("at"), y=ExtractYear("at")).order_by("pk"),
    ]
    expected = [sync.evaluate(Fetch(q)) for q in shapes]
    assert all(obj.at.tzinfo is None for obj in expected[0])  # naive indeed
    assert sorted(obj.at for obj in expected[0]) == sorted(moments)

    async def native_side() -> list[list[Any]]:
        return [await NATIVE_EXECUTE(Fetch(q.all())) for q in shapes]

    got = run_native(native_side)
    for i, (want, have) in enumerate(zip(expected, got, strict=True)):
        same(want, have, f"naive shape {i}")


def test_the_comparison_is_strict() -> None:
    """The comparison itself is strict: -0.0 and 0.0, Decimal('1.0') and Decimal('1.00') differ."""
    with pytest.raises(AssertionError):
        same(-0.0, 0.0, "x")
    with pytest.raises(AssertionError):
        same(Decimal("1.0"), Decimal("1.00"), "x")
    with pytest.raises(AssertionError):
        same(dt.datetime(2020, 1, 1, tzinfo=dt.UTC), dt.datetime(2020, 1, 1, tzinfo=ZoneInfo("UTC")), "x")
