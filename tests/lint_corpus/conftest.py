"""The corpus files are data for the lint: pytest must not collect them."""

collect_ignore_glob = ["case_*.py"]
