"""Where the project's data lives. The harness runs from a checkout (``make`` installs it
editable), so schemas, fixtures and expectations are found beside the package."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"
FIXTURES = ROOT / "fixtures"
CASSETTES = FIXTURES / "cassettes"
SAMPLES = FIXTURES / "samples"
SUITES = ROOT / "suites"
