"""Loads the conformance plugin for every pytest run in this checkout (it stays inert outside suites/)."""

pytest_plugins = ["vertex_conformance.plugin"]
