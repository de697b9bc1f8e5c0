"""The ``pytest11`` entry point: registers the plugin (``vertex_conformance.plugin``) once every
auto-loaded plugin is in, wherever pytest starts.

Why not point the entry point at the plugin itself: entry points load in the order the installed
distributions are found, and a checkout on ``sys.path`` (``pythonpath``, ``python -m pytest``)
finds its own egg-info first. Loaded before pytest-recording, the plugin lost its ``vcr_config``
and ``vcr_cassette_dir`` fixtures to pytest-recording's (among plugins the last registered wins:
replay looked for ``suites/cassettes``), and imported vcr before pytest-recording could mark it
for assertion rewriting (a warning in every run). Registered here, where pytest loads the initial
conftests, it comes after every entry point, as it did when the root conftest.py loaded it; this
module imports nothing heavy, so whichever place it gets in the order does no harm.
"""

from __future__ import annotations

import pytest

PLUGIN = "vertex_conformance.plugin"


def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Registers the plugin (unless ``-p no:vertex_conformance.plugin``); its options join the
    command line's final parse, which follows this hook."""
    early_config.pluginmanager.import_plugin(PLUGIN)
