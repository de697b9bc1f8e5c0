"""When two JSON values are the same, and where they differ: the one rule every comparison uses.

The replay matcher, the replay server, lane parity, the SDK view and the answer comparisons all
ask "is this the same JSON?". They answer it here, so none can drift into its own idea of it:

- **Numbers compare by value**: ``1`` equals ``1.0``. RFC 8259 defines a number by its value and
  gives no meaning to a trailing ``.0``; JSON Schema 2020-12 says the same (``integer`` accepts
  ``1.0``), and a serializer may pick either spelling. Python compares ``int`` and ``float``
  exactly, so ``2**53 + 1`` still differs from ``9007199254740992.0``.
- **Booleans are not numbers**: ``true`` never equals ``1``, ``false`` never ``0``. JSON has a
  boolean type of its own; Python's ``True == 1`` is an accident of ``bool`` subclassing ``int``,
  and an SDK that turns a wire ``1`` into ``True`` has changed the value.
- **Objects compare by their keys**, in any order; **arrays in order**, item by item.
- **Strings compare exactly** (no normalisation, no case folding); so do ``null`` and anything
  that is not JSON (a raw ``bytes`` body): equal with ``==``.

``differences`` reports every place two values differ as a :class:`Difference`: its JSON path
(spelled as findings spell them, ``$.a[0].b``), why (:class:`Why`) and the two values there, so
each caller words its own message. Keys are visited in sorted order, so the list does not depend
on the key order of either side.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from .findings import json_path


class _Missing:
    """The value on a side that lacks the key (distinct from a JSON ``null``)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


class Why(Enum):
    """Why a place differs; the value is a short phrase for messages that want a neutral one."""

    ONLY_FIRST = "only in the first"
    ONLY_SECOND = "only in the second"
    LENGTH = "arrays of different length"
    VALUE = "different values"


@dataclass(frozen=True)
class Difference:
    """One place where the first value (``first``) and the second (``second``) differ.

    For ``ONLY_FIRST``/``ONLY_SECOND`` the absent side is ``MISSING``; for ``LENGTH`` both sides
    are the whole arrays (their common items are compared as well, and reported on their own)."""

    path: str
    why: Why
    first: Any
    second: Any


def same(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` are the same JSON value (the rule in the module docstring)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(value, b[key]) for key, value in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def differences(a: Any, b: Any, root: str = "$") -> list[Difference]:
    """Every place where ``a`` and ``b`` differ, paths starting at ``root``; empty when ``same``."""
    return list(_walk(a, b, root))


def _walk(a: Any, b: Any, path: str) -> Iterator[Difference]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys()):
            where = json_path(path, key)
            if key not in b:
                yield Difference(where, Why.ONLY_FIRST, a[key], MISSING)
            elif key not in a:
                yield Difference(where, Why.ONLY_SECOND, MISSING, b[key])
            else:
                yield from _walk(a[key], b[key], where)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield Difference(path, Why.LENGTH, a, b)
        for index, (x, y) in enumerate(zip(a, b, strict=False)):
            yield from _walk(x, y, f"{path}[{index}]")
    elif not same(a, b):
        yield Difference(path, Why.VALUE, a, b)
