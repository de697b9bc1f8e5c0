"""Keep ``docs/requirements.yaml``, the manifest of every requirement id, in step with the code.

Kubernetes keeps ``test/conformance/testdata/conformance.yaml`` for the same reason: a requirement
id is a promise (reports, baselines and expectation files outside this repository refer to it),
so the list of ids, what each one means and since when, is reviewed as a file of its own. Each
entry is ``id``, ``statement``, ``source``, ``where`` (from ``requirements.all_requirements()``),
``since`` (the project version it appeared in) and ``retired`` (null, or the version it left in).

Regenerating keeps ``since`` of every listed id, adds new ids with the version in pyproject.toml,
and marks ids that left the code ``retired`` with that version: it never deletes an entry, so an
old report's id can always be looked up. It refuses an id whose statement changed (the id would
change meaning: declare a new id and retire the old one) unless ``--reword ID`` says the change
is a wording fix, and an id declared again after it was retired. ``source`` and ``where`` say
where a requirement comes from, not what it means; they follow the code.

    python -m tools.requirements_manifest            # from the checkout's root (make requirements)
    python -m tools.requirements_manifest --check    # exit 1 when the file and the code disagree
    python -m tools.requirements_manifest --reword ID [--reword ID ...]

Exit status: 0 written (or, with ``--check``, in agreement), 1 refused or disagreeing, 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from vertex_conformance.atomic import write_text
from vertex_conformance.paths import ROOT, shown
from vertex_conformance.requirements import Requirement, all_requirements

MANIFEST = ROOT / "docs" / "requirements.yaml"
PYPROJECT = ROOT / "pyproject.toml"
COMMAND = "make requirements"
EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
_SHOWN = 3  # disagreements named in --check's one line
FIELDS = ("id", "statement", "source", "where", "since", "retired")
HEADER = (
    "# Every requirement id, what it means and since when (the harness's versions); ids are never\n"
    "# deleted: a requirement that left the code is kept with the version it was retired in.\n"
    f"# Generated from vertex_conformance/requirements.py by tools/requirements_manifest.py ({COMMAND}).\n"
)
_TEXT = {"type": "string", "minLength": 1}
SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            **dict.fromkeys(("id", "statement", "source", "where", "since"), _TEXT),
            "retired": {"anyOf": [{"type": "null"}, _TEXT]},
        },
        "required": list(FIELDS),
        "additionalProperties": False,
    },
}


class BadInput(Exception):
    """The manifest file cannot be read as one, or an argument names no requirement (exit 2)."""


class Refused(Exception):
    """Regenerating would break a promise an id makes (exit 1)."""


def current_version(pyproject: Path = PYPROJECT) -> str:
    """The project's version, from pyproject.toml's ``[project]`` table."""
    try:
        return str(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"])
    except (OSError, tomllib.TOMLDecodeError, KeyError) as exc:
        raise BadInput(f"{pyproject}: no [project] version ({exc})") from exc


def load(path: Path = MANIFEST) -> list[dict[str, Any]]:
    """The entries of the manifest at ``path`` (none when there is no file yet)."""
    if not path.exists():
        return []
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BadInput(f"{shown(path)}: not readable as YAML ({' '.join(str(exc).split())})") from exc
    entries = [] if entries is None else entries  # an empty file: nothing listed yet
    error = best_match(Draft202012Validator(SCHEMA).iter_errors(entries))
    if error is not None:
        where = "".join(f"[{part}]" for part in error.absolute_path)
        raise BadInput(f"{shown(path)}: entry{where} is not a manifest entry: {error.message}")
    ids = [entry["id"] for entry in entries]
    if duplicate := next((i for i in ids if ids.count(i) > 1), None):
        raise BadInput(f"{shown(path)}: the id {duplicate} is listed twice")
    return entries


def _entry(requirement: Requirement, since: str, retired: str | None = None) -> dict[str, Any]:
    values = (requirement.id, requirement.statement, str(requirement.source), requirement.where)
    return dict(zip(FIELDS, (*values, since, retired), strict=True))


def merge(
    entries: Iterable[dict[str, Any]],
    requirements: Iterable[Requirement],
    version: str,
    reword: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """The manifest after the code changed: ``entries`` updated from ``requirements``, sorted by id.

    Raises Refused for an id whose statement changed (unless listed in ``reword``) or that was
    retired and is declared again, BadInput for a ``reword`` id the code does not declare."""
    listed = {entry["id"]: entry for entry in entries}
    declared = {r.id: r for r in requirements}
    reword = set(reword)
    if unknown := sorted(reword - declared.keys()):
        raise BadInput(f"--reword {unknown[0]}: the code declares no requirement with this id")
    merged = []
    for rid in sorted(listed.keys() | declared.keys()):
        old, new = listed.get(rid), declared.get(rid)
        if new is None:  # left the code: kept, retired now unless it already was
            merged.append({**old, "retired": old["retired"] or version})
        elif old is None:
            merged.append(_entry(new, since=version))
        elif old["retired"] is not None:
            raise Refused(
                f"requirement {rid} was retired in {old['retired']} and is declared again: an id never "
                "comes back; declare a new id"
            )
        elif old["statement"] != new.statement and rid not in reword:
            raise Refused(
                f"requirement {rid} changes meaning (its statement differs from {MANIFEST.name}): declare "
                f"a new id and retire the old one, or pass --reword {rid} if only the wording changed"
            )
        else:
            merged.append(_entry(new, since=old["since"]))
    return merged


def disagreements(entries: Iterable[dict[str, Any]], requirements: Iterable[Requirement]) -> list[str]:
    """Where the manifest and the code disagree, one short line each; empty when they agree."""
    listed = {entry["id"]: entry for entry in entries}
    declared = {r.id: r for r in requirements}
    out = []
    for rid in sorted(listed.keys() | declared.keys()):
        old, new = listed.get(rid), declared.get(rid)
        if old is None:
            out.append(f"{rid}: declared in the code, not listed")
        elif new is None:
            if old["retired"] is None:
                out.append(f"{rid}: listed as live, gone from the code")
        elif old["retired"] is not None:
            out.append(f"{rid}: listed as retired in {old['retired']}, declared in the code")
        else:
            changed = [name for name in FIELDS[1:4] if old[name] != _entry(new, old["since"])[name]]
            if changed:
                out.append(f"{rid}: {' and '.join(changed)} changed in the code")
    return out


def render(entries: Iterable[dict[str, Any]]) -> str:
    """The manifest file's text: the header, then one YAML mapping per entry."""
    body = yaml.safe_dump(list(entries), sort_keys=False, allow_unicode=True, width=1 << 30)
    return HEADER + body


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m tools.requirements_manifest",
        description=f"Regenerate {shown(MANIFEST)} from the requirements the code declares.",
    )
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the file is stale")
    parser.add_argument(
        "--reword",
        action="append",
        default=[],
        metavar="ID",
        help="accept a changed statement of ID as a wording fix (repeatable)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2): argparse has already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    prog, path = "requirements_manifest", MANIFEST
    try:
        entries, requirements = load(path), all_requirements()
        if args.check:
            problems = disagreements(entries, requirements)
            if problems:
                listed = "; ".join(problems[:_SHOWN])
                if len(problems) > _SHOWN:
                    listed += f"; and {len(problems) - _SHOWN} more"
                print(f"{prog}: {shown(path)} disagrees with the code ({listed}); run {COMMAND}")
                return EXIT_REFUSED
            print(f"{prog}: {shown(path)} lists all {len(requirements)} requirements of the code")
            return EXIT_OK
        merged = merge(entries, requirements, current_version(), args.reword)
    except BadInput as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Refused as exc:
        print(f"{prog}: refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    write_text(path, render(merged))
    retired = sum(entry["retired"] is not None for entry in merged)
    print(f"{prog}: wrote {shown(path)}: {len(merged) - retired} live and {retired} retired requirements")
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
