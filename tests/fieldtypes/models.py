"""Every common field type (and its nullable variant), plus the relations needed for
``select_related`` inside a ``Prefetch``: Owner <- Sample -> Kind (UUID primary key,
self-referencing parent), Sample <-> Kind through an M2M."""

from django.db import models


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    LIVE = "live", "Live"
    GONE = "gone", "Gone (archived)"


class Owner(models.Model):
    name = models.CharField(max_length=100)
    born = models.DateField(null=True)


class Kind(models.Model):
    # A UUID primary key, so foreign keys to it carry UUID values through the drivers.
    id = models.UUIDField(primary_key=True)
    code = models.CharField(max_length=20, choices=Status.choices)
    weight = models.DecimalField(max_digits=9, decimal_places=3, null=True)
    seen = models.DateTimeField(null=True)
    parent = models.ForeignKey("self", models.SET_NULL, null=True, related_name="children")


class Sample(models.Model):
    owner = models.ForeignKey(Owner, models.CASCADE, related_name="samples")
    kind = models.ForeignKey(Kind, models.SET_NULL, null=True, related_name="samples")
    tags = models.ManyToManyField(Kind, related_name="tagged")

    at = models.DateTimeField()
    at_null = models.DateTimeField(null=True)
    day = models.DateField()
    day_null = models.DateField(null=True)
    clock = models.TimeField()
    clock_null = models.TimeField(null=True)
    span = models.DurationField()
    span_null = models.DurationField(null=True)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    rate = models.DecimalField(max_digits=15, decimal_places=10)
    whole = models.DecimalField(max_digits=5, decimal_places=0)
    price_null = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    ratio = models.FloatField()
    ratio_null = models.FloatField(null=True)
    flag = models.BooleanField()
    maybe = models.BooleanField(null=True)
    data = models.JSONField(null=True)
    uid = models.UUIDField()
    uid_null = models.UUIDField(null=True)
    blob = models.BinaryField()
    blob_null = models.BinaryField(null=True)
    big = models.BigIntegerField()
    big_null = models.BigIntegerField(null=True)
    small = models.SmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices)
    label = models.CharField(max_length=50, null=True)
    text = models.TextField()

    class Meta:
        # Declared, so that JSONField's system check does not query SQLite to find
        # out (the check tests run without database access).
        required_db_features = {"supports_json_field"}
