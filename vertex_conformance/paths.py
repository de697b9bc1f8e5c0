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
EXPECTATIONS = ROOT / "expectations"
REPORTS = ROOT / "reports"


def shown(path: Path) -> str:
    """A path as a report shows it: relative to the checkout when inside it (no machine's home
    directory in a shared report), absolute otherwise."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path.resolve())  # outside the checkout: absolute, so it means one file wherever read
