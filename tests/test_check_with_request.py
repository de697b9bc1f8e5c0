"""`vertex-conformance check --request`: the request turns on the form checks that need it."""

import json

from vertex_conformance.cli import main
from vertex_conformance.paths import FIXTURES, SAMPLES


def request_file(tmp_path, name: str, **extra) -> str:
    body = {**json.loads((FIXTURES / "requests" / f"{name}.json").read_text()), **extra}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(body))
    return str(path)


def test_the_documented_tool_stream_with_its_request_shows_the_index_quirk(tmp_path, capsys):
    request = request_file(
        tmp_path, "function_call_arguments", model="google/gemini-3.1-pro-preview", stream=True
    )
    code = main(["check", "--request", request, str(SAMPLES / "stream_function_call_arguments.sse")])
    out = capsys.readouterr().out
    assert code == 1
    violations = [line for line in out.splitlines() if ": [" in line]
    assert len(violations) == 2  # the two calls, nothing else
    assert all("[tools.index-stable]" in line for line in violations)
    assert "2 violation(s)" in out


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
