"""The vocabulary: a typo is refused naming the choices, every lane can run, and the forms the
suites mark are exactly the forms the vocabulary knows."""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vertex_conformance.paths import SUITES
from vertex_conformance.vocabulary import (
    ALL_FORMS,
    CLIENT_LANES,
    FORMS,
    LANES,
    OTHER_FORMS,
    SDK_LANES,
    SUITE_LANES,
    Lane,
    Mode,
    Profile,
    Target,
    UnknownWord,
    choose,
    lane,
)


def test_choose_gives_back_the_member_the_value_names():
    assert choose("live", Mode, "mode") is Mode.LIVE
    assert choose("openai", list(Profile), "profile") is Profile.OPENAI
    assert choose("sdk", LANES, "lane") == "sdk"


@pytest.mark.parametrize(
    ("value", "choices", "what", "message"),
    [
        ("replya", Mode, "mode", "unknown mode 'replya': use one of replay, record, live"),
        ("Gemini", Target, "target", "unknown target 'Gemini': use one of gemini, endpoint"),
        ("", Profile, "profile", "unknown profile '': use one of vertex, openai"),
        (
            None,
            SUITE_LANES,
            "lane",
            "unknown lane None: use one of httpx, sdk, sdk-async, openai-node, litellm, langchain-openai",
        ),
    ],
)
def test_choose_refuses_a_typo_naming_every_choice(value, choices, what, message):
    with pytest.raises(UnknownWord) as caught:
        choose(value, choices, what)
    assert str(caught.value) == message


def test_choose_says_where_the_word_came_from():
    with pytest.raises(
        UnknownWord, match=r"^unknown form 'plian' \(suites/test_plain\.py::t\): use one of plain, "
    ):
        choose("plian", ALL_FORMS, "form", "suites/test_plain.py::t")


def test_an_unknown_lane_is_an_error_never_another_lane():
    every = "httpx, sdk, sdk-async, openai-node, litellm, langchain-openai"
    with pytest.raises(UnknownWord, match=rf"^unknown lane 'skd': use one of {every}$"):
        lane("skd")
    assert lane("sdk-async").id == "sdk-async"


def runner_of(registered: Lane) -> Callable[..., Any]:
    """The function a lane's ``runner`` names, imported as ``Lane.send`` imports it."""
    module, function = registered.runner.split(":")
    return getattr(importlib.import_module(module), function)


@pytest.mark.parametrize("lane_id", LANES)
def test_every_lane_runner_resolves_to_a_function_of_a_call_and_a_token_source(lane_id):
    registered = LANES[lane_id]
    run = runner_of(registered)
    assert callable(run)
    expected = ["call", "tokens", "lane"] if registered.client else ["call", "tokens"]
    assert list(inspect.signature(run).parameters) == expected


@pytest.mark.parametrize("lane_id", CLIENT_LANES)
def test_every_client_lane_names_a_driver_with_the_client_contract_and_a_package(lane_id):
    registered = LANES[lane_id]
    driver = importlib.import_module(str(registered.driver))
    assert all(callable(getattr(driver, name)) for name in ("drive", "version", "unavailable"))
    assert registered.package


def test_a_runner_that_names_nothing_does_not_resolve():
    """What the test above would catch: a renamed function the registry still names."""
    with pytest.raises(AttributeError):
        runner_of(
            Lane("gone", "a lane whose function was renamed", "vertex_conformance.lanes:run_gone", sdk=False)
        )


def test_the_suites_run_every_lane_and_the_sdk_lanes_are_the_ones_that_drive_the_sdk():
    assert SUITE_LANES == tuple(LANES) == ("httpx", "sdk", "sdk-async", *CLIENT_LANES)
    assert SDK_LANES == ("sdk", "sdk-async")
    assert CLIENT_LANES == ("openai-node", "litellm", "langchain-openai")
    assert not any(LANES[lane_id].sdk for lane_id in CLIENT_LANES)
    assert all(LANES[lane_id].sdk for lane_id in SDK_LANES)
    assert not LANES["httpx"].sdk


def test_a_mode_says_whether_it_sends_and_whether_it_uses_cassettes():
    assert {mode: (mode.sends, mode.cassettes) for mode in Mode} == {
        Mode.REPLAY: (False, True),
        Mode.RECORD: (True, True),
        Mode.LIVE: (True, False),
    }


def marked_forms(path: Path) -> list[str]:
    """The argument of every ``pytest.mark.form(...)`` in a suite module, read from its source (a
    form that is not a plain string cannot be checked, and fails here)."""
    forms = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "pytest.mark.form":
            [argument] = node.args
            assert isinstance(argument, ast.Constant) and isinstance(argument.value, str), (
                f"{path.name}:{node.lineno}: the form is not a string literal"
            )
            forms.append(argument.value)
    return forms


def test_the_suites_mark_exactly_the_forms_of_the_vocabulary():
    """Every documented form and every other test kind has a test, and no test names a form the
    reports and expectations would not know."""
    used = {form for path in sorted(SUITES.glob("*.py")) for form in marked_forms(path)}
    assert used == set(ALL_FORMS)


def test_marked_forms_reads_a_form_from_source(tmp_path):
    """The parser above sees decorators and module marks alike, so the comparison is not vacuous."""
    suite = tmp_path / "test_x.py"
    suite.write_text(
        "import pytest\npytestmark = pytest.mark.form('global')\n\n"
        "@pytest.mark.form('thinkng')\ndef test_x():\n    pass\n",
        encoding="utf-8",
    )
    assert sorted(marked_forms(suite)) == ["global", "thinkng"]


def test_documented_and_other_forms_are_apart_and_together_are_all_forms():
    assert not set(FORMS) & set(OTHER_FORMS)
    assert ALL_FORMS == {**FORMS, **OTHER_FORMS}
    assert all(title.strip() for title in ALL_FORMS.values())
