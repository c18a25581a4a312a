"""Miyabi Character Studio: the shared library behind the studio pages, the CLI, workers and notebooks."""
