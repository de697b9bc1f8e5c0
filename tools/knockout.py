"""Branch knock-out of the checks: does the negative corpus notice each branch being removed?

Mutation testing of the answers (``tools/mutations.py``) asks whether the checks catch broken
traffic; this asks the converse of the corpus (tests/negative/): whether every branch of every
check is pinned by some case. For each ``if``/``elif``/``else`` body, each loop body and each
``yield`` statement of a function in ``vertex_conformance/checks/*.py``, the branch is replaced by a
no-op (``pass``; ``yield from ()`` inside a generator, so it stays one), the function's code is
swapped for the recompiled one in memory, and the corpus (every case with its findings' paths and
messages, every documented sample as a control) runs until one case no longer holds. A branch whose
removal no case notices is reported: either a case is missing, or the branch is dead code.

    python -m tools.knockout              # every branch; exit 1 when one is not pinned
    python -m tools.knockout --module tools --json
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from types import CodeType, FunctionType
from typing import Any

from tools import negative_corpus
from vertex_conformance.paths import ROOT

CHECKS_DIR = ROOT / "vertex_conformance" / "checks"


@dataclass(frozen=True)
class Branch:
    """One branch of one function: where it is and what knocking it out replaces."""

    module: str  # the module's name inside vertex_conformance.checks, e.g. "tools"
    function: str  # the qualified name of the top-level function or method that holds it
    line: int
    kind: str  # "if", "else", "for", "while" (their bodies) or "yield" (the statement)
    text: str  # the branch's first source line, stripped

    @property
    def key(self) -> str:
        return f"{self.module}:{self.function}:{self.text}"

    def __str__(self) -> str:
        where = f"vertex_conformance/checks/{self.module}.py:{self.line}"
        return f"{where} in {self.function} ({self.kind}): {self.text}"


# Branches the corpus cannot pin, with the reason: "module:function:the branch's first line" (stripped),
# or a prefix of it ("module:" for a whole module), so an entry survives lines moving.
UNPINNABLE: dict[str, str] = {
    "parity:": "lane parity compares the requests of two lanes; the corpus holds single answers, and "
    "tests/test_parity.py pins lanes.same-wire-body",
    "tools:compare_tool_calls:if not streamed.streamed": "a caller's mistake (the exchanges in the wrong "
    "order): tests/test_tool_checks.py pins it; the corpus always passes them in order",
    "tools:compare_tool_calls:if not all(answered(": "a pair's sides are answers by construction; "
    "tests/test_tool_checks.py pins the comparison skipping an error side",
    "_predicates:is_error_body:if ctx.exchange.streamed:": "a stream answered with an error status: without "
    "the guard the error checks apply and find no body, so no verdict changes (the guard keeps them absent)",
}


def exempt(branch: Branch) -> str | None:
    """Why ``branch`` is not the corpus's to pin, or ``None``."""
    return next((why for key, why in UNPINNABLE.items() if branch.key.startswith(key)), None)


def _is_generator(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether ``function`` itself yields (a yield inside a nested function or lambda does not count)."""
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Yield | ast.YieldFrom):
            return True
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(node))
    return False


def _is_elif(node: ast.If) -> bool:
    return len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If)


def _targets(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[tuple[ast.AST, str, int]]:
    """``(node, kind, line)`` of every branch inside ``function`` (nested functions included)."""
    for node in ast.walk(function):
        if isinstance(node, ast.If):
            yield node, "if", node.lineno
            if node.orelse and not _is_elif(node):
                yield node, "else", node.orelse[0].lineno
        elif isinstance(node, ast.For | ast.AsyncFor | ast.While):
            yield node, "for" if not isinstance(node, ast.While) else "while", node.lineno
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Yield | ast.YieldFrom):
            yield node, "yield", node.lineno


def _top_level_functions(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """``(qualified name, node)`` of every module-level function and every method of a module-level class."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    yield f"{node.name}.{item.name}", item


def _source(module: str) -> str:
    return (CHECKS_DIR / f"{module}.py").read_text(encoding="utf-8")


def branches(module: str) -> list[Branch]:
    """Every branch of every function of ``vertex_conformance.checks.<module>``, in source order."""
    source = _source(module)
    lines = source.splitlines()
    found = []
    for qualname, function in _top_level_functions(ast.parse(source)):
        for _, kind, line in _targets(function):
            found.append(Branch(module, qualname, line, kind, lines[line - 1].strip()))
    return sorted(found, key=lambda b: (b.line, b.kind))


def _noop(generator: bool) -> list[ast.stmt]:
    """What a knocked-out branch becomes: nothing, in a form that keeps a generator a generator."""
    if generator:
        return [ast.Expr(ast.YieldFrom(ast.Tuple([], ast.Load())))]
    return [ast.Pass()]


def _knocked_out(branch: Branch) -> CodeType:
    """The code of ``branch.function`` with ``branch`` replaced by a no-op, compiled from the
    module's source so line numbers (and tracebacks) stay those of the file."""
    tree = ast.parse(_source(branch.module))
    function = dict(_top_level_functions(tree))[branch.function]
    holders = [f for f in ast.walk(function) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)]
    for node, kind, line in _targets(function):
        if (kind, line) != (branch.kind, branch.line):
            continue
        holder = min(
            (f for f in holders if f.lineno <= node.lineno <= (f.end_lineno or f.lineno)),
            key=lambda f: (f.end_lineno or f.lineno) - f.lineno,
        )
        noop = _noop(_is_generator(holder))
        if kind == "else":
            node.orelse = noop  # type: ignore[attr-defined]
        elif kind == "yield":
            _replace_statement(holder, node, noop[0])
        else:
            node.body = noop  # type: ignore[attr-defined]
        break
    else:
        raise LookupError(f"no {branch.kind} at line {branch.line} of {branch.function}")
    code = compile(ast.fix_missing_locations(tree), str(CHECKS_DIR / f"{branch.module}.py"), "exec")
    return _find_code(code, branch.function)


def _replace_statement(holder: ast.AST, old: ast.AST, new: ast.stmt) -> None:
    for parent in ast.walk(holder):
        for field in ("body", "orelse", "finalbody"):
            statements = getattr(parent, field, None)
            if isinstance(statements, list) and any(s is old for s in statements):
                statements[[id(s) for s in statements].index(id(old))] = new
                return
    raise LookupError("the yield statement has no parent")


def _find_code(code: CodeType, qualname: str) -> CodeType:
    """The code object of the module-level function or method ``qualname`` (unique in a module)."""
    for const in code.co_consts:
        if isinstance(const, CodeType):
            if const.co_qualname == qualname:
                return const
            try:
                return _find_code(const, qualname)
            except LookupError:
                pass
    raise LookupError(f"no code object {qualname}")


def _function(branch: Branch) -> FunctionType:
    """The live function object whose code a knock-out swaps (a method's underlying function)."""
    package = "vertex_conformance.checks"
    owner: Any = importlib.import_module(
        package if branch.module == "__init__" else f"{package}.{branch.module}"
    )
    *classes, name = branch.function.split(".")
    for cls in classes:
        owner = getattr(owner, cls)
    attribute = owner.__dict__[name] if classes else getattr(owner, name)
    for unwrap in ("func", "fget", "__func__"):  # cached_property, property, staticmethod/classmethod
        attribute = getattr(attribute, unwrap, attribute)
    if not isinstance(attribute, FunctionType):
        raise TypeError(f"{branch.function} is not a function")
    return attribute


def noticed_by(branch: Branch, corpus: list[negative_corpus.Case]) -> str | None:
    """The first case (or sample) that no longer holds with ``branch`` knocked out, or ``None``."""
    function = _function(branch)
    original = function.__code__
    function.__code__ = _knocked_out(branch)
    try:
        for name, _problems in negative_corpus.all_mismatches(corpus):
            return name
        return None
    except Exception as exc:  # the knock-out broke the check outright: the corpus noticed
        return f"raised {type(exc).__name__}"
    finally:
        function.__code__ = original


def modules() -> list[str]:
    return sorted(p.stem for p in CHECKS_DIR.glob("*.py"))


def run(selected: list[str]) -> dict[str, Any]:
    corpus = negative_corpus.cases()
    started = time.perf_counter()
    unpinned: list[Branch] = []
    exempted: list[Branch] = []
    total = 0
    for module in selected:
        for branch in branches(module):
            total += 1
            if noticed_by(branch, corpus) is None:
                (exempted if exempt(branch) else unpinned).append(branch)
    return {
        "branches": total,
        "noticed": total - len(unpinned) - len(exempted),
        "unpinned": [asdict(b) | {"where": str(b)} for b in unpinned],
        "unpinnable": [asdict(b) | {"where": str(b), "why": exempt(b)} for b in exempted],
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.knockout", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--module", action="append", choices=modules(), help="only this checks module (repeatable)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    report = run(args.module or modules())
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"knock-out: {report['noticed']} of {report['branches']} branches of the checks are pinned "
            f"by the negative corpus ({len(report['unpinnable'])} pinned elsewhere or unreachable), "
            f"{report['seconds']} s"
        )
        for entry in report["unpinnable"]:
            print(f"  not the corpus's: {entry['where']} ({entry['why']})")
        for entry in report["unpinned"]:
            print(f"  NOT PINNED: {entry['where']}")
    return 1 if report["unpinned"] else 0


if __name__ == "__main__":
    sys.exit(main())
