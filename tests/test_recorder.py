"""The recorder serves flags to the clients recording into it, evaluated like the local server's
/flags over the persons it recorded, and asserts $feature_flag_called."""

from __future__ import annotations

import pytest

import posthog_client
from posthog_client.testing import Recorder

PLAN_FLAG = {
    "flags": [
        {"id": 1, "key": "pro-tools", "active": True,
         "filters": {"groups": [{"properties": [{"key": "plan", "value": "pro", "type": "person"}],
                                 "rollout_percentage": 100}]}},
    ]
}  # fmt: skip


def test_an_app_reads_the_flags_a_test_sets(posthog_recorder: Recorder) -> None:
    posthog_recorder.set_flags({"new-ui": True, "checkout": "v2"}, payloads={"checkout": [1, 2]})
    posthog_client.init("phc_test")
    assert posthog_client.wait_for_flags(5)
    assert posthog_client.feature_enabled("new-ui") is True
    assert posthog_client.get_feature_flag("checkout") == "v2"
    assert posthog_client.get_feature_flag_payload("checkout") == [1, 2]
    posthog_recorder.assert_flag_called("new-ui", value=True)
    posthog_recorder.assert_flag_called("checkout", person=posthog_client.get_distinct_id())
    with pytest.raises(AssertionError, match="no event '\\$feature_flag_called'"):
        posthog_recorder.assert_flag_called("new-ui", value=False)


def test_without_flags_set_every_flag_is_unknown(posthog_recorder: Recorder) -> None:
    posthog_client.init("phc_test")
    assert posthog_client.wait_for_flags(5)
    assert posthog_client.get_feature_flag("anything") is None
    posthog_recorder.assert_flag_called("anything", value=None)


def test_definitions_see_what_the_app_told_about_its_user(posthog_recorder: Recorder) -> None:
    posthog_recorder.set_flags(PLAN_FLAG)
    server = posthog_client.Client("phc_test", mode="server")
    assert server.feature_enabled("pro-tools", distinct_id="u1") is False
    server.set_person_properties({"plan": "pro"}, distinct_id="u1")
    posthog_recorder.flush()  # recorded persons are what the flags see, as on PostHog
    assert server.feature_enabled("pro-tools", distinct_id="u1") is True
    assert server.feature_enabled("pro-tools", distinct_id="u2", person_properties={"plan": "pro"})
    posthog_recorder.assert_flag_called("pro-tools", distinct_id="u1", value=True)
