"""``$exception`` properties in PostHog's error-tracking shape (posthog-python's
``$exception_list``): the caught exception first, causes after, frames oldest first."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from posthog_client._events.exception import exception_properties


def caught(raiser: Any) -> BaseException:
    try:
        raiser()
    except BaseException as exc:
        return exc
    raise AssertionError("nothing raised")


def chained() -> None:
    try:
        raise ValueError("invalid order total")
    except ValueError as cause:
        raise RuntimeError("checkout failed") from cause


def test_the_caught_exception_comes_first_and_its_cause_after_it() -> None:
    props = exception_properties(caught(chained), handled=False, mechanism="excepthook")
    outer, inner = props["$exception_list"]
    assert (outer["type"], outer["value"]) == ("RuntimeError", "checkout failed")
    assert (inner["type"], inner["value"]) == ("ValueError", "invalid order total")
    assert outer["mechanism"] == {
        "type": "excepthook", "handled": False, "synthetic": False, "exception_id": 0,
    }  # fmt: skip
    assert inner["mechanism"]["type"] == "chained"
    assert (inner["mechanism"]["parent_id"], inner["mechanism"]["source"]) == (0, "__cause__")
    assert props["$exception_type"] == "RuntimeError"
    assert props["$exception_message"] == "checkout failed"
    json.dumps(props)  # plain JSON, nothing to convert


def test_an_implicit_context_is_kept_unless_suppressed() -> None:
    def implicit() -> None:
        try:
            {}["missing"]
        except KeyError:
            raise TypeError("while handling")  # noqa: B904 - the implicit context is the point

    def suppressed() -> None:
        try:
            {}["missing"]
        except KeyError:
            raise TypeError("clean") from None

    entries = exception_properties(caught(implicit), handled=True)["$exception_list"]
    assert [e["type"] for e in entries] == ["TypeError", "KeyError"]
    assert entries[1]["mechanism"]["source"] == "__context__"
    assert len(exception_properties(caught(suppressed), handled=True)["$exception_list"]) == 1


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception groups are Python 3.11+")
def test_members_of_an_exception_group_follow_the_group() -> None:
    group = ExceptionGroup("two failed", [ValueError("a"), KeyError("b")])  # noqa: F821
    entries = exception_properties(group, handled=False)["$exception_list"]
    assert [e["type"] for e in entries] == ["ExceptionGroup", "ValueError", "KeyError"]
    assert [e["mechanism"].get("source") for e in entries[1:]] == ["exceptions[0]", "exceptions[1]"]
    assert {e["mechanism"]["parent_id"] for e in entries[1:]} == {0}


def test_a_cycle_of_contexts_is_walked_once() -> None:
    first, second = ValueError("first"), ValueError("second")
    first.__context__, second.__context__ = second, first
    entries = exception_properties(first, handled=True)["$exception_list"]
    assert [e["value"] for e in entries] == ["first", "second"]


def test_frames_run_oldest_first_and_say_whose_code_they_are() -> None:
    exc = caught(lambda: json.loads("{not json"))
    frames = exception_properties(exc, handled=True)["$exception_list"][0]["stacktrace"]["frames"]
    ours, theirs = frames[0], frames[-1]
    assert ours["module"] == __name__ and ours["function"] == "caught" and ours["in_app"]
    assert ours["filename"] == "events/test_exception.py"  # from the top package on
    assert ours["abs_path"] == __file__ and isinstance(ours["lineno"], int)
    assert theirs["module"].startswith("json.") and not theirs["in_app"]  # the standard library
    assert theirs["filename"].startswith("json/")
    assert all(f["platform"] == "python" for f in frames)
    assert not any("context_line" in f or "vars" in f for f in frames)  # no source, no locals


def test_only_the_innermost_frames_of_a_deep_stack_are_kept() -> None:
    def recurse(depth: int) -> None:
        if depth == 0:
            raise RecursionError("deep")
        recurse(depth - 1)

    frames = exception_properties(caught(lambda: recurse(200)), handled=True)["$exception_list"][0][
        "stacktrace"
    ]["frames"]
    assert len(frames) == 50
    assert frames[-1]["function"] == "recurse"


def test_an_exception_whose_str_fails_is_still_described() -> None:
    class Broken(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    props = exception_properties(Broken(), handled=True)
    assert props["$exception_message"] == "<unprintable Broken>"
