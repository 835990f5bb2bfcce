"""The local server's flags: where they come from, and /flags answered over ingested data."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from posthog_client import ConfigurationError
from posthog_client.server import FlagSource, PersonEngine
from posthog_client.server._flag_source import definitions_from_values

from . import KEY, event

COMPANY_FLAG = {
    "id": 5,
    "key": "big-companies",
    "active": True,
    "filters": {
        "aggregation_group_type_index": 0,
        "groups": [
            {
                "properties": [
                    {"key": "employees", "value": 100, "operator": "gt", "type": "group",
                     "group_type_index": 0}
                ],
                "rollout_percentage": 100,
            }
        ],
    },
}  # fmt: skip
PRO_FLAG = {
    "id": 6,
    "key": "pro",
    "active": True,
    "filters": {
        "groups": [
            {"properties": [{"key": "plan", "value": "pro", "type": "person"}],
             "rollout_percentage": 100}
        ]
    },
}  # fmt: skip


def ask(source: FlagSource, engine: PersonEngine, **body: Any) -> dict[str, Any]:
    status, answer = source.answer(engine, {"token": KEY, **body}, api_key=KEY, headers={}, v2=True)
    assert status == 200, answer
    return {
        key: details["variant"] or details["enabled"] for key, details in answer["flags"].items()
    }


def test_plain_values_become_flags_for_everyone(engine: PersonEngine) -> None:
    source = FlagSource({"on": True, "off": False, "exp": "test"})
    assert ask(source, engine, distinct_id="anyone") == {"on": True, "off": False, "exp": "test"}
    document = definitions_from_values({"exp": "test"}, {"exp": {"a": 1}})
    assert document["flags"][0]["filters"]["payloads"] == {"test": '{"a": 1}'}


def test_person_and_group_properties_come_from_what_was_ingested(engine: PersonEngine) -> None:
    source = FlagSource({"flags": [COMPANY_FLAG, PRO_FLAG]})  # no group_type_mapping given
    acme = {"$group_type": "company", "$group_key": "acme", "$group_set": {"employees": 500}}
    engine.ingest(
        [event("$set", "u1", {"$set": {"plan": "pro"}}), event("$groupidentify", "u1", acme)]
    )
    assert ask(source, engine, distinct_id="u1", groups={"company": "acme"}) == {
        "big-companies": True,
        "pro": True,
    }
    assert ask(source, engine, distinct_id="u2", groups={"company": "tiny"}) == {
        "big-companies": False,
        "pro": False,
    }
    overridden = ask(source, engine, distinct_id="u1", person_properties={"plan": "free"})
    assert overridden["pro"] is False  # the request's properties win over stored ones (E8)


def test_requests_without_a_distinct_id_or_token_are_refused(engine: PersonEngine) -> None:
    source = FlagSource({"on": True})
    assert source.answer(engine, {"token": KEY}, api_key=KEY, headers={})[0] == 400
    assert source.answer(engine, {"distinct_id": "u"}, api_key=KEY, headers={})[0] == 401
    assert (
        source.answer(engine, {"token": "phc_x", "distinct_id": "u"}, api_key=KEY, headers={})[0]
        == 401
    )


def test_quota_limited_switch_and_legacy_shape(engine: PersonEngine) -> None:
    source = FlagSource({"on": True})
    _, legacy = source.answer(
        engine, {"token": KEY, "distinct_id": "u"}, api_key=KEY, headers={}, v2=False
    )
    assert legacy["featureFlags"] == {"on": True}
    source.quota_limited = True
    _, answer = source.answer(engine, {"token": KEY, "distinct_id": "u"}, api_key=KEY, headers={})
    assert answer["flags"] == {} and answer["quotaLimited"] == ["feature_flags"]


def test_a_file_is_read_again_when_it_changes(tmp_path: Path, engine: PersonEngine) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps({"new-ui": True}))
    source = FlagSource(path)
    assert ask(source, engine, distinct_id="u") == {"new-ui": True}
    path.write_text(json.dumps({"flags": [PRO_FLAG]}))
    os.utime(path, ns=(1, 1))  # a different mtime even within the clock's resolution
    assert ask(source, engine, distinct_id="u") == {"pro": False}


def test_a_broken_file_is_refused_at_start_and_ignored_later(
    tmp_path: Path, engine: PersonEngine, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "flags.json"
    path.write_text('{"flags": [{"key": "x", "filters": {"groups": "no"}}]}')
    with pytest.raises(ConfigurationError, match=r"flags\.json"):
        FlagSource(path)
    with pytest.raises(ConfigurationError, match=r"missing\.json"):
        FlagSource(tmp_path / "missing.json")
    path.write_text(json.dumps({"on": True}))
    source = FlagSource(path)
    path.write_text("{not json")
    os.utime(path, ns=(1, 1))
    assert ask(source, engine, distinct_id="u") == {"on": True}
    assert "still serving the previous flags" in caplog.text


@pytest.mark.parametrize("flags", [{"x": 3}, 42, {"x": ""}])
def test_values_that_are_no_flag_values_are_refused(flags: Any) -> None:
    with pytest.raises(ConfigurationError):
        FlagSource(flags)
