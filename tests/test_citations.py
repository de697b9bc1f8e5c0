"""Every citation resolves for someone who has only the repository.

A citation of material outside the checkout (a maintainer's notes, a path that climbs out of it)
is a dead end for every user, and a section link whose heading was renamed is one too. So no
tracked text file names such material, and every expectation ``link`` and requirement ``where``
that names a repository path points at a file that exists, and at a heading that exists when it
has an ``#anchor``; a web address there is https.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path, PurePosixPath

import pytest

from vertex_conformance.expectations import load
from vertex_conformance.paths import EXPECTATIONS, ROOT
from vertex_conformance.requirements import all_requirements

# OpenAI's file is kept byte for byte as published; this file states the rules, so it names them.
UNSCANNED = {"schemas/openai/reference.json", "tests/test_citations.py"}
# The maintainers' material outside the checkout: its folder, and its notes by stem (named in pieces,
# so that this file, which states the rule, does not cite them itself)
OUTSIDE_FOLDER = "shared"
OUTSIDE_NOTES = ("SPEC", "DESIGN")
OUTSIDE_NAMES = re.compile(rf"{OUTSIDE_FOLDER}/|\b(?:{'|'.join(OUTSIDE_NOTES)})\.md")
PARENT_PATH = re.compile(r"(?<![\w./-])(?:\.\./)+[^\s)\]'\"`>]*")
WEB_LINK = re.compile(r"\bhttps?://[^\s)\]'\"`>]+")
BARE_HOST = re.compile(r"(?<![\w./:-])(?:[a-z0-9-]+\.)+[a-z]{2,}/[^\s)\]'\"`>]*")
TEXT_SUFFIXES = "md|json|yaml|yml|py|txt|toml|html|sse"
REPO_PATH = re.compile(rf"(?<![\w./:#-])((?:[\w.-]+/)*[\w.-]+\.(?:{TEXT_SUFFIXES}))(?:#([\w-]+))?(?![\w/])")
HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^ {0,3}(```|~~~)")


def outside_citations(text: str, folder: PurePosixPath) -> list[str]:
    """The names of outside material in ``text``, and its ``../`` paths that leave the repository
    when read from ``folder`` (a relative link to a sibling folder stays inside and is fine)."""
    found = [match.group() for match in OUTSIDE_NAMES.finditer(text)]
    for match in PARENT_PATH.finditer(text):
        depth = len(folder.parts)
        for part in PurePosixPath(match.group()).parts:
            depth += -1 if part == ".." else 1
            if depth < 0:
                found.append(match.group())
                break
    return found


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped (word characters, hyphens and
    spaces kept), spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """The anchors of a Markdown text's headings (outside code fences); a repeated heading gets
    GitHub's ``-1``, ``-2`` … suffix."""
    found: set[str] = set()
    repeats: dict[str, int] = {}
    fenced = False
    for line in markdown.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        heading = None if fenced else HEADING.match(line)
        if heading:
            base = slug(heading.group(1))
            count = repeats.get(base, 0)
            repeats[base] = count + 1
            found.add(f"{base}-{count}" if count else base)
    return found


def citation_problems(citation: str, root: Path) -> list[str]:
    """What is wrong with one citation read against the repository at ``root``: a web address that
    is not https, a repository path that does not exist, an anchor no heading of it matches."""
    problems = [f"{link}: not https" for link in WEB_LINK.findall(citation) if link.startswith("http:")]
    rest = WEB_LINK.sub(" ", citation)
    problems += [f"{host}: a web address without https://" for host in BARE_HOST.findall(rest)]
    for path, anchor in REPO_PATH.findall(BARE_HOST.sub(" ", rest)):
        target = root / path
        if not target.is_file():
            problems.append(f"{path}: no such file in the repository")
        elif anchor and target.suffix == ".md" and anchor not in anchors(target.read_text(encoding="utf-8")):
            problems.append(f"{path}#{anchor}: no heading of {path} has this anchor")
    return problems


def repository_texts() -> list[tuple[str, str]]:
    """Every tracked or new (not ignored) text file of the checkout, as (path, text)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    texts = []
    for name in sorted(set(filter(None, listed.split("\0"))) - UNSCANNED):
        path = ROOT / name
        if not path.is_file():
            continue  # deleted in the working tree, not yet in the index
        data = path.read_bytes()
        if b"\0" in data:
            continue
        try:
            texts.append((name, data.decode("utf-8")))
        except UnicodeDecodeError:
            continue  # binary media
    return texts


def citations() -> list[tuple[str, str]]:
    """Every expectation ``link`` and requirement ``where``, named by where it is declared."""
    links = [
        (f"{path.relative_to(ROOT)} ({entry.requirement})", entry.link)
        for path in sorted(EXPECTATIONS.glob("*.yaml"))
        for entry in load(path)
    ]
    wheres = [(f"requirement {req.id}", req.where) for req in all_requirements()]
    return links + wheres


@pytest.mark.slow  # asks git for the list of files
def test_no_file_of_the_repository_cites_material_outside_it() -> None:
    problems = [
        f"{name}: {cited}"
        for name, text in repository_texts()
        for cited in outside_citations(text, PurePosixPath(name).parent)
    ]
    assert not problems, "cite docs/spec.md or a public URL instead:\n" + "\n".join(problems)


def test_every_link_and_where_resolves_inside_the_repository_or_on_the_web() -> None:
    problems = [
        f"{owner}: {problem}" for owner, text in citations() for problem in citation_problems(text, ROOT)
    ]
    assert not problems, "\n".join(problems)


def test_the_citations_checked_include_paths_with_anchors() -> None:
    anchored = [text for _, text in citations() if any(anchor for _, anchor in REPO_PATH.findall(text))]
    assert anchored, "no link or where cites a docs/spec.md section: the anchor rule would check nothing"


@pytest.mark.parametrize(
    ("text", "folder"),
    [
        (f"see {OUTSIDE_FOLDER}/reference/README.md", "."),
        (f"the forms of {OUTSIDE_NOTES[0]}.md", "docs"),
        (f"{OUTSIDE_NOTES[1]}.md 'Who runs it'", "."),
        (f"[spec](../{OUTSIDE_FOLDER}/{OUTSIDE_NOTES[0]}.md)", "."),
        ("[notes](../../notes.md)", "docs"),
    ],
    ids=["their folder", "the spec notes", "the design notes", "parent of the root", "climbs past the root"],
)
def test_outside_material_is_found(text: str, folder: str) -> None:
    assert outside_citations(text, PurePosixPath(folder))


def test_a_parent_path_that_stays_inside_the_repository_is_fine() -> None:
    assert outside_citations("[schema](../schemas/results.schema.json)", PurePosixPath("reports")) == []


def test_slug_follows_githubs_rule() -> None:
    assert slug("Form 8: streamed function-call arguments") == "form-8-streamed-function-call-arguments"
    assert slug("Form 5: `extra_body`") == "form-5-extra_body"
    assert slug("OpenAI baseline") == "openai-baseline"


def test_anchors_skip_code_fences_and_number_repeated_headings() -> None:
    text = "# Title\n\n```\n# not a heading\n```\n## Notes\n## Notes\n"
    assert anchors(text) == {"title", "notes", "notes-1"}


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "spec.md").write_text("# Spec\n\n## Known quirks\n", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("citation", "problem"),
    [
        ("docs/missing.md", "docs/missing.md: no such file in the repository"),
        ("docs/spec.md#known-bugs", "docs/spec.md#known-bugs: no heading of docs/spec.md has this anchor"),
        ("http://example.com/page", "http://example.com/page: not https"),
        ("(example.com/page)", "example.com/page: a web address without https://"),
    ],
    ids=["missing file", "missing anchor", "plain http", "no scheme"],
)
def test_a_bad_citation_is_named(repository: Path, citation: str, problem: str) -> None:
    assert citation_problems(f"seed page; {citation}", repository) == [problem]


def test_good_citations_pass(repository: Path) -> None:
    good = "docs/spec.md#known-quirks (form 8); docs/spec.md; https://example.com/a.md; CompletionUsage.n"
    assert citation_problems(good, repository) == []
