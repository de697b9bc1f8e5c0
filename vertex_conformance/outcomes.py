"""The outcome vocabulary (DESIGN.md "Words") and how a test's findings fold into one outcome."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    KNOWN_DEVIATION = "known-deviation"  # an expected failure listed in expectations/
    UNEXPECTED_PASS = "unexpected-pass"  # a listed deviation that no longer happens
    UNSUPPORTED = "unsupported"  # the target does not offer the form
    INFRA = "infra"  # 429, 5xx, timeout, dropped connection: neither pass nor conformance failure
    ERROR = "error"  # the harness itself broke (missing cassette, bad fixture)


# When several requirements of one test differ, the test takes the most severe outcome.
SEVERITY = [
    Outcome.PASS,
    Outcome.UNSUPPORTED,
    Outcome.KNOWN_DEVIATION,
    Outcome.UNEXPECTED_PASS,
    Outcome.INFRA,
    Outcome.FAIL,
    Outcome.ERROR,
]


def worst(outcomes: list[Outcome]) -> Outcome:
    return max(outcomes, key=SEVERITY.index, default=Outcome.PASS)
