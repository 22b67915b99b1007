"""The gate: verdicts, statistics, floors and the baseline files."""
