"""tools/knockout.py: it finds the branches of the checks, knocks one out at a time, and tells a
branch the corpus pins from one it does not."""

from __future__ import annotations

import inspect

from tools import knockout, negative_corpus
from vertex_conformance.checks import media


def _branch(function: str, kind: str, text: str) -> knockout.Branch:
    return next(
        b
        for b in knockout.branches("media")
        if (b.function, b.kind) == (function, kind) and b.text.startswith(text)
    )


def test_branches_lists_if_else_loop_and_yield_of_functions_and_methods():
    kinds = {b.kind for b in knockout.branches("media")}
    assert {"if", "for", "yield"} <= kinds
    assert any(b.function == "Context.answer_messages" for b in knockout.branches("__init__"))
    assert any(b.kind == "else" for b in knockout.branches("__init__"))


def test_a_pinned_branch_is_noticed_by_the_case_that_pins_it():
    branch = _branch("image_decodes", "yield", "yield f")
    noticed = knockout.noticed_by(branch, negative_corpus.cases()) or ""
    assert noticed.startswith("media[") and noticed.endswith(
        "] a PNG cut in half: valid base64, the magic bytes intact, the file truncated"
    )


def test_a_branch_no_case_reaches_is_reported_unpinned():
    branch = _branch("image_decodes", "yield", "yield f")
    without_decode_cases = [c for c in negative_corpus.cases() if "image.decodes" not in c.data["violates"]]
    assert knockout.noticed_by(branch, without_decode_cases) is None


def test_a_knock_out_is_undone_and_keeps_a_generator_a_generator():
    before = media.image_decodes.__code__
    branch = _branch("image_decodes", "if", "if not judged")
    assert inspect.isgeneratorfunction(media.image_decodes)
    knockout.noticed_by(branch, [])
    assert media.image_decodes.__code__ is before


def test_exempt_branches_say_why():
    parity = next(iter(knockout.branches("parity")))
    assert "tests/test_parity.py" in (knockout.exempt(parity) or "")
    assert knockout.exempt(_branch("image_decodes", "yield", "yield f")) is None
