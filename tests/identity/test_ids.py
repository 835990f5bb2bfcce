"""The illegal-id table (V1, V4, V5; decision A8)."""

from __future__ import annotations

import pytest

from posthog_client._identity.ids import illegal_id_reason, merge_refusal_reason

# V4: refused by PostHog's ingestion for merges.
MERGE_REFUSED = [
    "", " ", "\t\n",
    "anonymous", "ANONYMOUS", "Guest", "distinctid", "DISTINCT_ID", "id", "ID", "not_authenticated",
    "email", "Email", "undefined", "true", "TRUE", "false", "False",
    "'anonymous'", '"guest"', "'TRUE'",
    "[object Object]", "NaN", "None", "none", "null", "0", "'None'", '"null"', "'0'",
    "a\x00b", "x" * 401,
]  # fmt: skip
# Legal for ingestion: case-sensitive entries in another case, whitespace around, near misses.
MERGE_ALLOWED = [
    "NULL", "nan", "NONE", " anonymous", "anonymous ", "guest_1", "'guest", "00",
    "user@example.com", "x" * 400,
]  # fmt: skip
# V1: posthog-js refuses these for identify on top of the server's list.
BROWSER_REFUSED = ["NULL", "Null", "$posthog_cookieless", "$POSTHOG_COOKIELESS"]


@pytest.mark.parametrize("value", MERGE_REFUSED)
def test_v4_v5_ids_ingestion_refuses_to_merge(value: str) -> None:
    assert merge_refusal_reason(value) is not None
    assert illegal_id_reason(value) is not None


@pytest.mark.parametrize("value", MERGE_ALLOWED)
def test_v4_ids_ingestion_merges(value: str) -> None:
    assert merge_refusal_reason(value) is None


@pytest.mark.parametrize("value", BROWSER_REFUSED)
def test_v1_browser_refusals_apply_to_identify(value: str) -> None:
    assert illegal_id_reason(value) is not None


@pytest.mark.parametrize("value", ["user_42", "42", "a@b.c", "ñandú", "x" * 200])
def test_ordinary_ids_are_accepted(value: str) -> None:
    assert illegal_id_reason(value) is None


def test_ids_longer_than_capture_keeps_are_refused() -> None:
    reason = illegal_id_reason("x" * 201)
    assert reason is not None and "200" in reason


@pytest.mark.parametrize("value", [None, 42, 4.2, ["a"], {"a": 1}])
def test_non_strings_are_refused_by_the_pure_check(value: object) -> None:
    assert illegal_id_reason(value) is not None


def test_reasons_name_the_problem() -> None:
    assert "placeholder" in (illegal_id_reason("null") or "")
    assert "empty" in (illegal_id_reason("  ") or "")
    assert "NUL" in (illegal_id_reason("a\x00") or "")
