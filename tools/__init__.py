"""Maintainer tools, kept out of the installed package: they run from a checkout (``python -m tools.X``
from its root, or through ``make``), and the harness's tests and benchmarks import them from there."""
