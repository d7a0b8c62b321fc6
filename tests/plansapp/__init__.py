"""Serializers, schemas and endpoints over ``tests.testapp``'s models, for the plan tests.

No models of its own (``tests.testapp`` has one per relation kind), so it is not an
installed app; the endpoints are served with ``ROOT_URLCONF = "tests.plansapp.urls"``.
"""
