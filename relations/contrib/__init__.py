"""Adapters for API frameworks; each module is imported only by a project that uses it.

- ``relations.contrib.drf``: ``PlannedQuerysetMixin`` for DRF generic views and viewsets
  (extra ``django-strict-relations[drf]``);
- ``relations.contrib.adrf``: ``APlannedMixin`` for adrf's async generic views
  (extra ``[adrf]``);
- ``relations.contrib.ninja``: ``@planned(Schema)`` for django-ninja endpoints
  (extra ``[ninja]``).

The core (``relations``) never imports these frameworks.
"""
