"""`vertex-conformance check --request`: the request turns on the form checks that need it."""

import base64
import json
import os

import pytest

from vertex_conformance.cli import main
from vertex_conformance.paths import FIXTURES, SAMPLES


def request_file(tmp_path, name: str, **extra) -> str:
    body = {**json.loads((FIXTURES / "requests" / f"{name}.json").read_text()), **extra}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(body))
    return str(path)


def test_the_documented_tool_stream_with_its_request_shows_the_index_quirk_as_known(tmp_path, capsys):
    """The shipped expectations name the quirks (the unstable index and the repeated name, each once
    per call): they are shown, as known, and the exit code stays 0; without them the same four
    findings are violations."""
    request = request_file(
        tmp_path, "function_call_arguments", model="google/gemini-3.1-pro-preview", stream=True
    )
    stream = str(SAMPLES / "stream_function_call_arguments.sse")
    code = main(["check", "--request", request, stream])
    out = capsys.readouterr().out
    assert code == 0
    known = [line for line in out.splitlines() if ": known deviation [" in line]
    assert len(known) == 4  # two calls, two quirks each, nothing else
    assert sum("[tools.index-stable]" in line for line in known) == 2
    assert sum("[tools.name-once]" in line for line in known) == 2
    assert all("(expected: line " in line for line in known)
    assert "ok (" in out and "4 known deviation(s))" in out

    code = main(["check", "--expectations", os.devnull, "--request", request, stream])
    out = capsys.readouterr().out
    assert code == 1
    violations = [line for line in out.splitlines() if line.startswith(f"{stream}: [")]
    assert len(violations) == 4
    assert all("[tools.index-stable]" in line or "[tools.name-once]" in line for line in violations)
    assert "4 violation(s)" in out


def test_tool_arguments_that_break_the_tool_schema_are_caught_only_with_the_request(tmp_path, capsys):
    stream = (SAMPLES / "stream_function_call_arguments.sse").read_text().replace("celsius", "kelvin")
    path = tmp_path / "stream.sse"
    path.write_text(stream)
    assert main(["check", str(path)]) == 0
    capsys.readouterr()
    request = request_file(
        tmp_path, "function_call_arguments", model="google/gemini-3.1-pro-preview", stream=True
    )
    assert main(["check", "--request", request, str(path)]) == 1
    assert "[tools.args-schema]" in capsys.readouterr().out


def test_thinking_checks_apply_with_the_thinking_request(tmp_path, capsys):
    answer = json.loads((SAMPLES / "thinking_chat.json").read_text())
    answer["choices"][0]["message"]["content"] = "No thoughts here."
    path = tmp_path / "answer.json"
    path.write_text(json.dumps(answer))
    assert main(["check", str(path)]) == 0
    capsys.readouterr()
    request = request_file(tmp_path, "thinking", model=answer["model"])
    assert main(["check", "--request", request, str(path)]) == 1
    assert "[thinking.thoughts-tagged]" in capsys.readouterr().out


# --- checks that need only the answer run without the request -------------------------------------

MEDIA = FIXTURES / "media"


def image_answer(tmp_path, data: str | None = None, mime_type: str | None = "image/png") -> str:
    """The documented image answer (real PNG bytes) with its data or declared MIME type replaced."""
    answer = json.loads((SAMPLES / "image_output_png.json").read_text())
    audio = answer["choices"][0]["message"]["audio"]
    if data is not None:
        audio["data"] = data
    if mime_type is None:
        del audio["extra_content"]
    else:
        audio["extra_content"]["google"]["mime_type"] = mime_type
    path = tmp_path / "image.json"
    path.write_text(json.dumps(answer))
    return str(path)


@pytest.mark.parametrize(
    ("change", "requirement"),
    [
        ({"data": "<BASE64_BYTES>"}, "image.base64"),
        ({"data": base64.b64encode((MEDIA / "pixel.jpg").read_bytes()).decode()}, "image.mime-matches"),
        ({"mime_type": None}, "image.mime-matches"),
    ],
    ids=["not-base64", "jpeg-declared-png", "no-mime-type"],
)
def test_a_broken_image_answer_fails_without_its_request(tmp_path, capsys, change, requirement):
    """The image checks read the answer alone: the request is not needed to see broken bytes."""
    code = main(["check", image_answer(tmp_path, **change)])
    out = capsys.readouterr().out
    assert code == 1
    assert [line.split(" ")[1] for line in out.splitlines() if ": [" in line] == [f"[{requirement}]"]


def test_the_documented_image_answer_passes_the_image_checks_without_its_request(tmp_path, capsys):
    code = main(["check", "--json", image_answer(tmp_path)])
    report = json.loads(capsys.readouterr().out)["files"][0]
    assert code == 0
    evaluated = set(report["requirements_evaluated"])
    assert {"image.base64", "image.mime-matches", "image.content-null"} <= evaluated
    assert not any(rid.startswith("image.") for rid in report["needs_request"])


def test_openai_audio_output_is_not_judged_as_an_image_under_the_openai_profile(tmp_path, capsys):
    """OpenAI's own audio answer has no Google MIME type: it is not Vertex's image carrier."""
    path = image_answer(tmp_path, data=base64.b64encode(b"RIFF....WAVE").decode(), mime_type=None)
    main(["check", "--json", "--profile", "openai", "--expectations", os.devnull, path])
    report = json.loads(capsys.readouterr().out)["files"][0]
    assert not any(rid.startswith("image.") for rid in report["requirements_evaluated"])


def test_checks_that_need_the_request_are_listed_as_skipped_until_it_is_given(tmp_path, capsys):
    answer = str(SAMPLES / "stream_function_call_arguments.sse")
    assert main(["check", answer]) == 0
    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if "need the request" in line]
    assert line.startswith(f"{answer}: ") and "checks need the request: pass --request" in line
    main(["check", "--json", answer])
    skipped = json.loads(capsys.readouterr().out)["files"][0]["needs_request"]
    assert {"tools.args-schema", "tools.known-function", "response.model-echo"} <= set(skipped)
    assert "tools.args-json" not in skipped  # the calls are there: it ran
    assert f"{len(skipped)} checks need the request" in line

    request = request_file(
        tmp_path, "function_call_arguments", model="google/gemini-3.1-pro-preview", stream=True
    )
    main(["check", "--json", "--request", request, answer])
    report = json.loads(capsys.readouterr().out)["files"][0]
    assert report["needs_request"] == []
    assert {"tools.args-schema", "tools.known-function"} <= set(report["requirements_evaluated"])
