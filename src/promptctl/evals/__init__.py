"""Eval suites and datasets, the runner, run directories, merge and replay."""
