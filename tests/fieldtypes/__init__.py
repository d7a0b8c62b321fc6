"""Models with every common field type, for the native/sync driver equivalence tests."""
