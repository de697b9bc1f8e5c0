"""The matrix page: one self-contained HTML file that shows a run at a glance, with its evidence.

Rows are the documented forms (docs/spec.md order), columns the lanes, each streamed and not. Every
cell links to the evidence of its tests on the same page. The page carries its own styles and no
script and references nothing outside itself, so it can be opened from a CI artifact, offline.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Any

from . import pace
from .atomic import write_text
from .baseline import Comparison
from .grouping import causes
from .results import FindingRecord, Results, TestRecord
from .vocabulary import FORMS, LANES, SEVERITY, SUITE_LANES, Outcome, worst

NOT_RUN = "not run"
NO_FORM = "(none)"  # a test that stopped before it named its form
DESCRIPTIONS = {
    Outcome.PASS: "every requirement held",
    Outcome.FAIL: "a requirement is violated",
    Outcome.KNOWN_DEVIATION: "fails as listed in expectations/ (reason and link in the evidence)",
    Outcome.UNEXPECTED_PASS: "a listed deviation no longer happens: remove it from expectations/",
    Outcome.UNSUPPORTED: "the target does not offer the form",
    Outcome.INFRA: "429, 5xx, timeout or dropped connection: neither a pass nor a failure",
    Outcome.ERROR: "the harness broke (missing cassette, bad fixture)",
    Outcome.NOT_APPLICABLE: "nothing to evaluate: the answer lacked what the checks look at (never a pass)",
}
# (light background of a cell or badge, strong colour of a dot or a section's edge) per outcome.
COLOURS = {
    Outcome.PASS: ("#dafbe1", "#1a7f37"),
    Outcome.FAIL: ("#ffcecb", "#cf222e"),
    Outcome.KNOWN_DEVIATION: ("#fff1b8", "#bf8700"),
    Outcome.UNEXPECTED_PASS: ("#e8d9ff", "#8250df"),
    Outcome.UNSUPPORTED: ("#eaeef2", "#8c959f"),
    Outcome.INFRA: ("#cfe6ff", "#0969da"),
    Outcome.ERROR: ("#ffb3ab", "#82071e"),
    Outcome.NOT_APPLICABLE: ("#f6f8fa", "#d0d7de"),
}
_RUN_VERSIONS = ("python", "vertex-conformance", "httpx", "httpx2", "vcrpy", "pytest", "jsonschema-rs")

_STYLE = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  margin: 24px; color: #1f2328; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; }
h3 { font-size: 15px; margin: 0 0 8px; } h4 { font-size: 13px; margin: 12px 0 4px; }
code, pre { font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; padding: 8px; white-space: pre-wrap;
  overflow-wrap: anywhere; max-height: 320px; overflow: auto; margin: 4px 0; }
a { color: #0550ae; }
.meta { color: #57606a; margin: 0 0 12px; }
.panels { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.panel { border: 1px solid #d0d7de; border-radius: 6px; padding: 10px 14px; }
.panel h2 { font-size: 14px; margin: 0 0 6px; }
table.kv td, table.kv th { text-align: left; padding: 1px 12px 1px 0; font-weight: normal;
  vertical-align: top; }
table.kv th { color: #57606a; }
.badge { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12px; font-weight: 600;
  border: 1px solid rgba(0,0,0,.15); white-space: nowrap; }
.summary .badge { font-size: 13px; margin: 0 4px 4px 0; }
table.matrix { border-collapse: collapse; width: 100%; table-layout: fixed; }
table.matrix th, table.matrix td { border: 1px solid #d0d7de; padding: 6px; vertical-align: top; }
table.matrix thead th { background: #f6f8fa; text-align: center; }
table.matrix tbody th { text-align: left; background: #f6f8fa; width: 190px; }
table.matrix tbody th small { display: block; color: #57606a; font-weight: normal; }
td .verdict { font-weight: 700; }
td .count { color: #3d444d; font-size: 12px; }
td ul { margin: 4px 0 0; padding: 0; list-style: none; font-size: 12px; }
td li { margin: 2px 0; display: flex; align-items: baseline; }
td li > span:last-child { min-width: 0; overflow-wrap: anywhere; } td li .dot { flex: none; }
td li a { text-decoration: none; } td li a:hover { text-decoration: underline; }
td.empty { color: #8c959f; text-align: center; background: #fff; }
table.targets thead th { font-size: 12px; overflow-wrap: anywhere; }
table.targets thead th:first-child { width: 150px; }
table.targets td { text-align: center; font-size: 12px; overflow-wrap: anywhere; }
td.not-run { color: #57606a; text-align: center; font-style: italic; background: repeating-linear-gradient(
  45deg, #fff, #fff 6px, #f6f8fa 6px, #f6f8fa 12px); }
.dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 4px;
  border: 1px solid rgba(0,0,0,.3); vertical-align: baseline; }
.legend { display: grid; grid-template-columns: max-content 1fr; gap: 4px 10px; align-items: center; }
section.test { border: 1px solid #d0d7de; border-left-width: 6px; border-radius: 6px; padding: 10px 14px;
  margin: 12px 0; }
table.findings { border-collapse: collapse; width: 100%; }
table.findings th, table.findings td { border: 1px solid #d0d7de; padding: 3px 6px; text-align: left;
  vertical-align: top; font-size: 12px; }
table.findings td { overflow-wrap: anywhere; }
table.findings th:first-child { width: 16%; } table.findings th:nth-child(2) { width: 11%; }
table.expectations th:nth-child(2) { width: auto; }
.facts span { margin-right: 14px; white-space: nowrap; } .facts b { color: #57606a; font-weight: normal; }
.back { font-size: 12px; float: right; }
section.verdict { border: 1px solid #d0d7de; border-left-width: 8px; border-radius: 6px; padding: 8px 14px;
  margin: 0 0 16px; }
section.verdict h2 { margin: 0 0 6px; font-size: 20px; }
"""


def _style() -> str:
    colours = "".join(
        f".o-{o.value} {{ background: {light}; }} .dot.o-{o.value} {{ background: {strong}; }}\n"
        f"section.o-{o.value} {{ border-left-color: {strong}; background: #fff; }}\n"
        for o, (light, strong) in COLOURS.items()
    )
    return _STYLE + colours


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _outcome_label(outcome: str) -> str:
    return outcome.replace("-", " ")


def _badge(outcome: str, text: str | None = None) -> str:
    return f'<span class="badge o-{_e(outcome)}">{_e(text or _outcome_label(outcome))}</span>'


def _params(nodeid: str) -> tuple[str, str]:
    """``(function, parametrization id)`` of a pytest node id."""
    function, _, params = nodeid.split("::")[-1].partition("[")
    return function, params.removesuffix("]")


def lane_of(record: TestRecord) -> str:
    return record.lane or "unknown"


def _form_of(record: TestRecord) -> str:
    return record.form or NO_FORM


def _label(record: TestRecord, lane: str) -> str:
    """A short name inside its cell: the column already says the lane and whether it streamed."""
    function, params = _params(record.nodeid)
    tokens = f"-{params}-".replace(f"-{lane}-", "-", 1).strip("-")
    for mode in ("plain", "stream"):
        tokens = tokens.removesuffix(f"-{mode}") if tokens != mode else ""
    return function.removeprefix("test_") + (f" [{tokens}]" if tokens else "")


def _anchors(records: Iterable[TestRecord]) -> dict[str, str]:
    """A unique, readable in-page id per node id."""
    out: dict[str, str] = {}
    for record in records:
        base = "t-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", record.nodeid).strip("-")
        anchor, n = base, 1
        while anchor in out.values():
            n += 1
            anchor = f"{base}-{n}"
        out[record.nodeid] = anchor
    return out


def _columns(tests: Iterable[TestRecord]) -> list[tuple[str, bool | None]]:
    """Every registered lane (streamed and not), then any other lane a report names."""
    tests = list(tests)
    lanes = set(SUITE_LANES) | {lane_of(t) for t in tests}
    ordered = [lane for lane in SUITE_LANES if lane in lanes] + sorted(lanes - set(SUITE_LANES))
    streams: list[bool | None] = [False, True]
    if any(t.streamed is None for t in tests):
        streams.append(None)
    return [(lane, streamed) for lane in ordered for streamed in streams]


def _stream_label(streamed: bool | None) -> str:
    return {False: "not streamed", True: "streamed", None: "streamed?"}[streamed]


def _cell(records: list[TestRecord], lane: str, anchors: dict[str, str]) -> str:
    if not records:
        return '<td class="empty" title="no test in this cell">—</td>'
    outcomes = [r.outcome for r in records]
    top = worst(outcomes).value
    count = outcomes.count(top)
    tally = f"{count} of {len(records)} tests" if len(records) > 1 else "1 test"
    items = "".join(
        f'<li><span class="dot o-{_e(r.outcome)}" title="{_e(r.outcome)}"></span>'
        f'<span><a href="#{_e(anchors[r.nodeid])}" title="{_e(r.nodeid)}">{_e(_label(r, lane))}</a> '
        f"<small>({_e(_outcome_label(r.outcome))})</small></span></li>"
        for r in sorted(records, key=lambda r: r.nodeid)
    )
    return (
        f'<td class="cell o-{_e(top)}"><div class="verdict">{_e(_outcome_label(top))}</div>'
        f'<div class="count">{_e(tally)}</div><ul>{items}</ul></td>'
    )


def _matrix(
    rows: list[tuple[str, str]],
    tests: list[TestRecord],
    columns: list[tuple[str, bool | None]],
    anchors: dict[str, str],
    caption: str,
    versions: dict[str, Any],
) -> str:
    lanes = list(dict.fromkeys(lane for lane, _ in columns))
    per_lane = len(columns) // len(lanes)
    head_lanes = "".join(f'<th colspan="{per_lane}">{_lane_heading(lane, versions)}</th>' for lane in lanes)
    head_streams = "".join(f"<th>{_e(_stream_label(s))}</th>" for _, s in columns)
    body = []
    for form, title in rows:
        in_row = [t for t in tests if _form_of(t) == form]
        subtitle = f"<small>{_e(form)}</small>" if title != form else ""
        header = f'<th scope="row">{_e(title)}{subtitle}</th>'
        if not in_row:
            body.append(
                f'<tr data-form="{_e(form)}">{header}<td class="not-run" colspan="{len(columns)}">'
                f"{NOT_RUN}</td></tr>"
            )
            continue
        cells = "".join(
            _cell([t for t in in_row if lane_of(t) == lane and t.streamed is s], lane, anchors)
            for lane, s in columns
        )
        body.append(f'<tr data-form="{_e(form)}">{header}{cells}</tr>')
    return (
        f'<table class="matrix"><caption hidden>{_e(caption)}</caption><thead>'
        f'<tr><th rowspan="2">form</th>{head_lanes}</tr><tr>{head_streams}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _lane_heading(lane_id: str, versions: dict[str, Any]) -> str:
    """A lane's column heading; a client lane's names the version of the client it judged."""
    registered = LANES.get(lane_id)
    if registered is None or registered.package is None:
        return _e(lane_id)
    version = versions.get(registered.package) or "not installed"
    return f"{_e(lane_id)}<br><small>{_e(registered.package)} {_e(version)}</small>"


def _kv(pairs: Iterable[tuple[str, Any]]) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_plain(v))}</td></tr>" for k, v in pairs)
    return f'<table class="kv">{rows}</table>'


def _plain(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _header(document: Results) -> str:
    run, versions, summary = document.run, document.versions, document.summary
    sdk = (
        f"openai {versions.get('openai') or 'not installed'} on "
        f"{versions.get('openai_sdk_http_library') or 'unknown'}"
    )
    badges = "".join(_badge(o.value, f"{summary.get(o.value, 0)} {_outcome_label(o.value)}") for o in Outcome)
    shown = [(name, versions.get(name)) for name in _RUN_VERSIONS if name in versions]
    return (
        "<header><h1>Vertex AI Chat Completions conformance</h1>"
        f'<p class="meta">{_e(sdk)} · {_e(run.get("mode"))} run against {_e(run.get("target"))} · '
        f"profile {_e(run.get('profile'))} · written {_e(document.generated_at)}</p>"
        f'<div class="summary" id="summary"><strong>{_e(summary.get("total", 0))} tests:</strong> '
        f"{badges}</div>{_pace(document)}"
        '<div class="panels">'
        f'<div class="panel"><h2>Run</h2>{_kv(_run_settings(run))}</div>'
        f'<div class="panel"><h2>Versions</h2>{_kv([("SDK under test", sdk), *shown])}</div>'
        f'<div class="panel"><h2>Legend</h2>{_legend()}</div>'
        "</div></header>"
    )


def _run_settings(run: dict[str, Any]) -> list[tuple[str, Any]]:
    """The run's settings as the panel lists them: of ``--targets`` the file (the targets table
    shows each target's settings)."""
    return [(k, (v or {}).get("file") if k == "targets" else v) for k, v in run.items()]


def _pace(document: Results) -> str:
    """One line on rate limits when the target said "too many" at all: the 429s, the waits, and how
    low each rate-limited target's concurrency fell (the timelines are in results.json)."""
    line = pace.summary(document.pace)
    if line is None:
        return ""
    fell = "; ".join(
        f"{target}: concurrency down to {min(limit for _, limit in figures['concurrency'])}"
        for target, figures in document.pace.items()
        if figures["rate_limited"]
    )
    return f'<p class="meta" id="pace">Rate limits: {_e(line)} · {_e(fell)} (results.json: pace)</p>'


def _legend() -> str:
    rows = "".join(f"{_badge(o.value)}<span>{_e(DESCRIPTIONS[o])}</span>" for o in SEVERITY)
    return (
        f'<div class="legend">{rows}<span class="badge not-run">{NOT_RUN}</span>'
        "<span>no test of the form in this run</span>"
        '<span class="badge">—</span><span>the form has no test in this lane or stream mode</span></div>'
    )


def _findings_table(findings: Iterable[FindingRecord]) -> str:
    rows = "".join(
        f"<tr><td><code>{_e(f.requirement)}</code></td><td>{_badge(f.outcome)}</td>"
        f"<td><code>{_e(f.path)}</code></td><td>{_e(f.message)}</td></tr>"
        for f in findings
    )
    return (
        '<table class="findings"><tr><th>requirement</th><th>outcome</th><th>JSON path</th>'
        f"<th>message</th></tr>{rows}</table>"
    )


def _expectations_table(applied: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td><code>{_e(rid)}</code></td><td>{_e((e or {}).get('reason'))}</td>"
        f"<td>{_e((e or {}).get('link'))}</td></tr>"
        for rid, e in applied.items()
    )
    return (
        '<table class="findings expectations"><tr><th>requirement</th><th>reason</th><th>link</th></tr>'
        f"{rows}</table>"
    )


def _exchanges(evidence: Any) -> str:
    """The request and response excerpts of every exchange the record carries."""
    items = evidence if isinstance(evidence, list) else [evidence]
    out = []
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        suffix = f" (exchange {position + 1}, {item.get('lane')} lane)" if len(items) > 1 else ""
        request, response = item.get("request") or {}, item.get("response") or {}
        if request:
            out.append(
                f"<h4>Request{_e(suffix)}</h4>"
                f"<p><code>{_e(request.get('method'))} {_e(request.get('url'))}</code></p>"
            )
            if request.get("body"):
                out.append(f"<pre>{_e(request['body'])}{_truncated(request)}</pre>")
        if response:
            out.append(f"<h4>Response{_e(suffix)}</h4><p>HTTP status {_e(response.get('status'))}</p>")
            if response.get("body"):
                out.append(f"<pre>{_e(response['body'])}{_truncated(response)}</pre>")
    return "".join(out)


def _truncated(part: dict[str, Any]) -> str:
    return "\n… (cut short)" if part.get("truncated") else ""


def _evidence(record: TestRecord, anchor: str) -> str:
    outcome = record.outcome
    facts = [
        ("form", record.form),
        ("lane", record.lane),
        ("streamed", record.streamed),
        ("target", record.target),
        ("target name", record.target_name),
        ("location", record.location),
        ("api version", record.api_version),
        ("HTTP status", record.status),
        ("duration", f"{record.duration_s} s" if record.duration_s is not None else None),
    ]
    parts = [
        f'<section class="test o-{_e(outcome)}" id="{_e(anchor)}">'
        '<a class="back" href="#matrix">back to the matrix</a>'
        f"<h3>{_badge(outcome)} <code>{_e(record.nodeid)}</code></h3>"
        '<div class="facts">'
        + "".join(f"<span><b>{_e(k)}</b> {_e(_plain(v))}</span>" for k, v in facts if v is not None)
        + "</div>"
    ]
    for text, title in ((record.reason, "Reason"), (record.error, "Error")):
        if text:
            parts.append(f"<h4>{title}</h4><pre>{_e(text)}</pre>")
    if record.findings:
        parts.append(f"<h4>Requirements that did not hold</h4>{_findings_table(record.findings)}")
    if record.expectations:
        parts.append(f"<h4>Expectations applied</h4>{_expectations_table(record.expectations)}")
    if record.by_design:
        parts.append(
            "<h4>Left unjudged by design</h4><p>"
            + ", ".join(f"<code>{_e(r)}</code>" for r in record.by_design)
            + "</p>"
        )
    if record.evidence:
        parts.append(_exchanges(record.evidence))
    for items, title in (
        (record.observations, "Observations"),
        (record.notes, "Notes"),
        (record.cassette, "Cassette"),
    ):
        if items:
            parts.append(f"<h4>{title}</h4>{_kv(items.items())}")
    requirements = record.requirements or {}
    if requirements:
        items = "".join(
            f'<li><span class="dot o-{_e(o)}"></span><code>{_e(rid)}</code> {_e(_outcome_label(o))}</li>'
            for rid, o in requirements.items()
        )
        parts.append(
            f"<details><summary>{len(requirements)} requirements evaluated</summary>"
            f"<ul>{items}</ul></details>"
        )
    parts.append("</section>")
    return "".join(parts)


def _test_link(nodeid: str, anchors: dict[str, str]) -> str:
    """The test's id, linked to its evidence when the run has it (a missing test has none)."""
    if nodeid not in anchors:
        return f"<code>{_e(nodeid)}</code>"
    return f'<a href="#{_e(anchors[nodeid])}"><code>{_e(nodeid)}</code></a>'


def _verdicts(document: Results, comparison: Comparison | None, anchors: dict[str, str]) -> str:
    """What a release manager must see first: the gate's verdict and its regressions, each linked to
    its evidence, and whether the run ran every test it selected."""
    parts = []
    if comparison is not None:
        failed = bool(comparison.regressions)
        count = len(comparison.regressions)
        title = f"GATE FAILED: {count} regression{'s' if count != 1 else ''}" if failed else "GATE PASSED"
        rows = "".join(
            f"<tr><td>{_test_link(c.nodeid, anchors)}</td>"
            f"<td><code>{_e(c.requirement or '(test)')}</code></td>"
            f"<td>{_e(c.before or 'missing')} → {_e(c.after or 'missing')}</td><td>{_e(c.evidence)}</td></tr>"
            for c in comparison.regressions
        )
        head = "<tr><th>test</th><th>requirement</th><th>change</th><th>evidence</th></tr>"
        table = f'<table class="findings">{head}{rows}</table>' if rows else ""
        counts = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in comparison.counts().items() if n)
        baseline = comparison.baseline.get("generated_at")
        parts.append(
            f'<section class="verdict {"o-fail" if failed else "o-pass"}" id="gate"><h2>{_e(title)}</h2>'
            f"<p>Compared with the baseline written {_e(baseline)}: {_e(counts or 'no changes')}.</p>"
            + "".join(f"<p>{_e(note)}</p>" for note in comparison.notes)
            + table
            + "</section>"
        )
    if document.incomplete is not None:
        missing = document.incomplete.not_run
        parts.append(
            '<section class="verdict o-error" id="incomplete">'
            f"<h2>RUN INCOMPLETE: {len(missing)} test{'s' if len(missing) != 1 else ''} not run</h2>"
            f"<p>{_e(document.incomplete.reason)}</p>"
            + (f"<ul>{''.join(f'<li><code>{_e(n)}</code></li>' for n in missing)}</ul>" if missing else "")
            + "</section>"
        )
    return "".join(parts)


def _causes(document: Results, anchors: dict[str, str]) -> str:
    """The run's failures grouped by cause, most tests first: one cause, one line."""
    found = causes(document.tests)
    if not found:
        return ""
    rows = "".join(
        f"<tr><td>{cause.tests}</td><td>{cause.findings}</td>"
        f"<td><code>{_e(cause.requirement or cause.outcome)}</code></td><td>{_e(cause.example)}</td>"
        f"<td>{' '.join(_test_link(n, anchors) for n in cause.examples)}</td></tr>"
        for cause in found
    )
    return (
        '<h2 id="causes">Failures by cause</h2>'
        '<table class="findings"><tr><th>tests</th><th>findings</th><th>requirement</th>'
        f"<th>message (the first of its kind)</th><th>for example</th></tr>{rows}</table>"
    )


def _stale(document: Results) -> str:
    """Expectation entries the run could have used and did not: the file is rotting there."""
    if not document.stale:
        return ""
    items = "".join(
        f"<li><code>{_e(e['file'])}</code> line {_e(e.get('line'))}: <code>{_e(e['requirement'])}</code> "
        f"— {_e(e['reason'])}</li>"
        for e in document.stale
    )
    return (
        '<h2 id="stale">Stale expectations</h2><p>These entries excused nothing in this run; '
        "<code>vertex-conformance expectations update</code> removes them.</p>"
        f"<ul>{items}</ul>"
    )


_TARGET_SHOWN = ("model", "location", "api_version", "base_url")  # under a target's name in its row


def _target_names(document: Results) -> list[str]:
    """The run's targets (``--targets``) in the order of its file, then any other a report names."""
    listed = [e["name"] for e in ((document.run.get("targets") or {}).get("entries") or [])]
    named = {t.target_name for t in document.tests if t.target_name}
    return [n for n in listed if n in named] + sorted(named - set(listed))


def _targets(document: Results, anchors: dict[str, str]) -> str:
    """With more than one target: targets by form, each cell the worst outcome of the target's tests
    of the form and how many had it, linked to the first of them (a browser-compatibility table)."""
    names = _target_names(document)
    if len(names) < 2:
        return ""
    settings = {e["name"]: e for e in ((document.run.get("targets") or {}).get("entries") or [])}
    present = {_form_of(t) for t in document.tests}
    forms = [f for f in FORMS if f in present] + sorted(present - set(FORMS))
    head = "".join(f'<th title="{_e(FORMS.get(f, f))}">{_e(f)}</th>' for f in forms)
    rows = []
    for name in names:
        cells = []
        for form in forms:
            records = sorted(
                (t for t in document.tests if t.target_name == name and _form_of(t) == form),
                key=lambda t: t.nodeid,
            )
            if not records:
                cells.append('<td class="empty" title="no test of this form">—</td>')
                continue
            top = worst(r.outcome for r in records)
            first = next(r for r in records if r.outcome is top)
            count = sum(r.outcome is top for r in records)
            cells.append(
                f'<td class="cell o-{_e(top)}"><a class="verdict" href="#{_e(anchors[first.nodeid])}">'
                f'{_e(_outcome_label(top))}</a><div class="count">{count} of {len(records)}</div></td>'
            )
        where = settings.get(name, {})
        detail = " · ".join(str(where[k]) for k in _TARGET_SHOWN if where.get(k))
        header = f'<th scope="row">{_e(name)}<small>{_e(detail)}</small></th>'
        rows.append(f'<tr data-target="{_e(name)}">{header}{"".join(cells)}</tr>')
    return (
        '<h2 id="targets">Targets by form</h2><table class="matrix targets">'
        f'<caption hidden>targets by form</caption><thead><tr><th>target</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def render(document: Results, comparison: Comparison | None = None) -> str:
    """The page for one run (with ``comparison``: the gate's verdict first)."""
    tests = list(document.tests)
    anchors = _anchors(tests)
    columns = _columns(tests)
    others = sorted({_form_of(t) for t in tests} - set(FORMS))
    order = {form: i for i, form in enumerate([*FORMS, *others])}
    in_order = sorted(tests, key=lambda t: (order[_form_of(t)], t.nodeid))
    other_section = (
        "<h2>Other tests</h2>"
        "<p>Probes of behaviour users reported (docs/spec.md), and tests of no documented form.</p>"
        + _matrix([(f, f) for f in others], tests, columns, anchors, "other tests", document.versions)
        if others
        else ""
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Vertex conformance: {_e(document.generated_at)}</title>"
        f"<style>{_style()}</style></head>"
        f"<body>{_verdicts(document, comparison, anchors)}{_header(document)}"
        f"{_targets(document, anchors)}{_causes(document, anchors)}{_stale(document)}"
        '<h2 id="matrix">Documented forms by lane</h2>'
        + _matrix(list(FORMS.items()), tests, columns, anchors, "documented forms", document.versions)
        + other_section
        + "<h2>Evidence</h2>"
        + "".join(_evidence(t, anchors[t.nodeid]) for t in in_order)
        + "</body></html>\n"
    )


def write(path: Path, document: Results, comparison: Comparison | None = None) -> None:
    """Write the page for ``document`` to ``path`` atomically."""
    write_text(path, render(document, comparison))
