"""Which openai SDK versions the suite supports, and the check ``make openai-sdk`` runs before pip.

pip installs an SDK below the supported floor with no more than a warning, and the venv is broken
afterwards (every command fails with an ImportError). So the requested version is held to the range
pyproject.toml declares for ``openai`` first, and pip only ever sees a version inside it. The range
has one source, pyproject.toml: the venv's own install and this check cannot disagree.

    python -m tools.sdk_version 2.8.0     # prints openai==2.8.0, or refuses (exit 2) naming the range
    python -m tools.sdk_version default   # prints the range itself: pip --upgrade takes its newest
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
DEFAULT = "default"  # the word that asks for the newest version in the range


class Unsupported(ValueError):
    """A requested version pip must not be given; the message names the supported range."""


def supported_range(pyproject: Path = PYPROJECT) -> SpecifierSet:
    """The specifier of the project's dependency on ``openai`` in ``pyproject``."""
    for line in tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]:
        requirement = Requirement(line)
        if requirement.name == "openai":
            return requirement.specifier
    raise Unsupported(f"{pyproject} declares no dependency on openai")


def shown(supported: SpecifierSet) -> str:
    """The range as a person writes it, lower bound first (``openai>=1.60,<4``)."""
    specs = sorted(supported, key=lambda spec: (not spec.operator.startswith(">"), str(spec)))
    return "openai" + ",".join(str(spec) for spec in specs)


def requirement_for(requested: str, supported: SpecifierSet) -> str:
    """What pip installs for ``requested`` (a version, or ``default``); refuses one outside ``supported``.

    A pre-release inside the range is accepted: an SDK team gates its release candidate."""
    if requested.strip() == DEFAULT:
        return shown(supported)
    try:
        version = Version(requested)
    except InvalidVersion:
        raise Unsupported(
            f"OPENAI_SDK={requested!r} is not a version; supported: {shown(supported)}, or '{DEFAULT}'"
        ) from None
    if not supported.contains(version, prereleases=True):
        raise Unsupported(
            f"openai {version} is outside the supported range {shown(supported)} (pyproject.toml); "
            f"nothing was installed"
        )
    return f"openai=={version}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.sdk_version",
        description="Print the pip requirement for an openai SDK version, or refuse one outside the range.",
    )
    parser.add_argument("version", help=f"an openai SDK version, or '{DEFAULT}' for the newest supported")
    args = parser.parse_args(argv)
    try:
        print(requirement_for(args.version, supported_range()))
    except Unsupported as exc:
        print(f"sdk_version: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
