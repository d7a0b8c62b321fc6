"""The models of the benchmark: authors and their books."""
