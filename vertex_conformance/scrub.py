"""The run's secret values, and the one way they are taken out of anything we write.

A live run knows values no cassette, report or log may hold: the project id and number, the
self-deployed endpoint id, the access tokens it sends, the service account it runs as. A
:class:`Scrubber` holds them, each with its kind and the placeholder that replaces it (the
placeholders cassettes already use: ``{PROJECT}``, ``{ENDPOINT}``; tokens become ``<redacted>``,
as sensitive headers do). Values can be added while the run goes on (a refreshed token).

What counts as an occurrence, and why:

- **Whole values only.** A value counts where neither neighbour is a "word" character
  ``[A-Za-z0-9_-]``: the characters of project ids, endpoint ids and tokens. So with project
  ``p``, ``backup``, ``stop`` and ``logprobs`` are left alone, while ``projects/p/locations``,
  ``"p"`` and ``p@…`` are scrubbed. ``-`` and ``_`` count as word characters because ids contain
  them: in ``my-proj-2`` the project ``my-proj`` is not a whole value. ``.``, ``@``, ``/`` and
  ``:`` are separators (a service-account e-mail ``sa@p.iam…`` holds the project ``p``).
- **Every spelling.** A server may send a value back JSON-escaped (``\\u002d`` for ``-``, any
  character, hex in either case; ``\\/`` for ``/``) or URL-encoded (``%2D``, either case), and
  mixes of them and the plain characters: each value becomes one regex in which every character
  matches itself, its JSON escape or its percent-encoding (its UTF-8 bytes). The neighbours are
  read the same way: ``%2Fp%2F`` holds ``p``; ``\\u0041p`` (``Ap``) does not.
- **``str`` and ``bytes``** (cassette bodies are bytes) are scrubbed by the same rule.

It is fast where it is called most, on big bodies in reports: with no value it returns at once;
a text that holds no value in plain spelling and no escape at all (a base64 image) is returned
after a few substring searches; otherwise one compiled alternation of all values, behind a
lookahead for the characters a spelling can start with, makes one pass over the text.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable
from enum import Enum
from typing import Any, NamedTuple, overload

from .redaction import REDACTED

PROJECT = "{PROJECT}"
PROJECT_NUMBER = "{PROJECT_NUMBER}"
ENDPOINT = "{ENDPOINT}"
SERVICE_ACCOUNT = "{SERVICE_ACCOUNT}"


class Kind(Enum):
    """What a secret value is, and its placeholder."""

    PROJECT_ID = ("project id", PROJECT)
    PROJECT_NUMBER = ("project number", PROJECT_NUMBER)
    ENDPOINT_ID = ("endpoint id", ENDPOINT)
    ACCESS_TOKEN = ("access token", REDACTED)
    SERVICE_ACCOUNT = ("service-account e-mail", SERVICE_ACCOUNT)

    def __init__(self, label: str, placeholder: str) -> None:
        self.label = label
        self.placeholder = placeholder


_WORD = "A-Za-z0-9_-"
_WORD_CHARS = [chr(c) for c in range(128) if re.fullmatch(f"[{_WORD}]", chr(c))]
_JSON_SHORT = {c: "\\" + e for c, e in zip('"\\/\b\f\n\r\t', '"\\/bfnrt', strict=True)}  # RFC 8259 section 7


def _hex(number: int, width: int) -> str:
    """``number`` in hex as a regex that takes either case of each letter."""
    return "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in f"{number:0{width}x}")


def _json_escape(char: str) -> str:
    """The ``\\uXXXX`` spelling of ``char`` (a surrogate pair beyond the BMP), as a regex."""
    units = char.encode("utf-16-be")
    return "".join(
        r"\\u" + _hex(int.from_bytes(units[i : i + 2], "big"), 4) for i in range(0, len(units), 2)
    )


def _percent(char: str) -> str:
    """The percent-encoding of ``char``'s UTF-8 bytes, as a regex."""
    return "".join("%" + _hex(byte, 2) for byte in char.encode("utf-8"))


def _char(char: str) -> str:
    spellings = [re.escape(char), _json_escape(char), _percent(char)]
    if char in _JSON_SHORT:
        spellings.append(re.escape(_JSON_SHORT[char]))
    return "(?:" + "|".join(spellings) + ")"


# A value's neighbour is a word character when it is one, or an escape that spells one. Every
# alternative inside a lookbehind has the same width, as Python's re requires.
_WORD_PERCENT = "(?:" + "|".join(_percent(c) for c in _WORD_CHARS) + ")"
_WORD_JSON = "(?:" + "|".join(_json_escape(c) for c in _WORD_CHARS) + ")"
_LEFT = (
    f"(?:(?<![{_WORD}])"
    f"|(?<=%[0-9A-Fa-f]{{2}})(?<!{_WORD_PERCENT})"
    rf"|(?<=\\u[0-9A-Fa-f]{{4}})(?<!{_WORD_JSON}))"
)
_RIGHT = f"(?![{_WORD}]|{_WORD_PERCENT}|{_WORD_JSON})"


class _Compiled(NamedTuple):
    text: re.Pattern[str]
    data: re.Pattern[bytes]
    placeholders: dict[str, str]  # group name -> placeholder
    clues: tuple[str, ...]  # a text with a value in it holds one of these (plain values, escape starts)
    clue_bytes: tuple[bytes, ...]

    def quick_miss(self, data: str | bytes) -> bool:
        """True when ``data`` cannot hold a value: no plain value and no escape in it."""
        clues = self.clue_bytes if isinstance(data, bytes) else self.clues
        return not any(clue in data for clue in clues)  # type: ignore[operator]


@functools.lru_cache(maxsize=32)
def _compile(values: tuple[tuple[str, Kind], ...]) -> _Compiled:
    """One alternation of every value, longest first, each in a named group (``s0``, ``s1``...)."""
    ordered = sorted(values, key=lambda item: len(item[0]), reverse=True)
    groups = [f"(?P<s{i}>{''.join(_char(c) for c in value)})" for i, (value, _) in enumerate(ordered)]
    # Every spelling starts with the value's first character, "\\" or "%": a lookahead on those
    # lets the engine skip other positions quickly (3 to 4 times faster on big bodies).
    starts = "".join(sorted({re.escape(value[0]) for value, _ in ordered}))
    pattern = f"(?=[{starts}\\\\%]){_LEFT}(?:{'|'.join(groups)}){_RIGHT}"
    escapes = {_JSON_SHORT[c] for value, _ in ordered for c in value if c in _JSON_SHORT}
    clues = (*(value for value, _ in ordered), "\\u", "%", *sorted(escapes))
    return _Compiled(
        re.compile(pattern),
        re.compile(pattern.encode("utf-8")),
        {f"s{i}": kind.placeholder for i, (_, kind) in enumerate(ordered)},
        clues,
        tuple(clue.encode("utf-8") for clue in clues),
    )


class Scrubber:
    """The run's secret values; ``scrub`` replaces each whole occurrence with its placeholder."""

    def __init__(self, secrets: Iterable[tuple[Kind, str]] = ()) -> None:
        self._values: dict[str, Kind] = {}
        self._compiled: _Compiled | None = None
        self._lock = threading.Lock()
        for kind, value in secrets:
            self.add(kind, value)

    @classmethod
    def of(cls, secrets: Scrubber | Iterable[str]) -> Scrubber:
        """``secrets`` itself, or a Scrubber of the project ids listed (a caller without a run, such
        as a self-test or the cassette builder, names the ids it must never write)."""
        if isinstance(secrets, Scrubber):
            return secrets
        return cls((Kind.PROJECT_ID, value) for value in secrets)

    def add(self, kind: Kind, value: str) -> None:
        """Scrub ``value`` from now on (an empty value is ignored: it would match everywhere)."""
        if not value:
            return
        with self._lock:  # a token refresh on one thread while another thread scrubs
            if self._values.get(value) is kind:
                return
            values = {**self._values, value: kind}
            self._compiled = _compile(tuple(values.items()))
            self._values = values

    def __bool__(self) -> bool:
        return bool(self._values)

    def __deepcopy__(self, memo: dict[int, Any]) -> Scrubber:
        """Itself: the Scrubber is the run's one list of secrets, and a copy would miss a value
        added later. pytest-recording deep-copies the vcr configuration that holds it."""
        return self

    def __repr__(self) -> str:  # kinds only: a Scrubber may end up in a log or a traceback
        return f"Scrubber({sorted(kind.label for kind in self._values.values())})"

    @overload
    def scrub(self, data: str) -> str: ...
    @overload
    def scrub(self, data: bytes) -> bytes: ...
    def scrub(self, data: str | bytes) -> str | bytes:
        """``data`` with every whole occurrence of a value, in any spelling, replaced by its placeholder."""
        compiled = self._compiled
        if compiled is None or not data or compiled.quick_miss(data):
            return data
        placeholders = compiled.placeholders
        if isinstance(data, bytes):
            return compiled.data.sub(lambda m: placeholders[m.lastgroup or ""].encode(), data)
        return compiled.text.sub(lambda m: placeholders[m.lastgroup or ""], data)

    def finds(self, data: str | bytes) -> bool:
        """Whether ``data`` holds a whole occurrence of a value, in any spelling."""
        compiled = self._compiled
        if compiled is None or not data or compiled.quick_miss(data):
            return False
        pattern = compiled.data if isinstance(data, bytes) else compiled.text
        return pattern.search(data) is not None  # type: ignore[arg-type]
