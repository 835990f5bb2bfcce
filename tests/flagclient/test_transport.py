"""The HTTP of flags: /flags/?v=2 with its retries, definitions with ETag, remote config."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import responses

from posthog_client import RejectedError, RetryableTransportError
from posthog_client._flagclient import transport
from posthog_client._flagclient.transport import FlagsTransport, error_code

HOST = "http://flags.test"
FLAGS = f"{HOST}/flags/?v=2"


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(transport.time, "sleep", slept.append)
    return slept


def make(**options: Any) -> FlagsTransport:
    return FlagsTransport("phc_k", HOST + "/", timeout_s=3.0, **options)


@responses.activate
def test_flags_posts_json_with_the_token_in_the_body_and_no_authorization() -> None:
    responses.post(FLAGS, json={"flags": {}})
    assert make(secret_key="phx_secret").flags({"token": "phc_k", "distinct_id": "u"}) == {
        "flags": {}
    }
    (call,) = responses.calls
    assert json.loads(call.request.body) == {"token": "phc_k", "distinct_id": "u"}
    assert "Authorization" not in call.request.headers
    assert call.request.headers["User-Agent"].startswith("posthog-client-python/")


@pytest.mark.parametrize("status", [502, 504])
@responses.activate
def test_a_gateway_error_is_retried_once_after_300_ms(status: int, sleeps: list[float]) -> None:
    responses.post(FLAGS, status=status)
    responses.post(FLAGS, json={"featureFlags": {"f": True}})
    assert make().flags({}) == {"featureFlags": {"f": True}}
    assert len(responses.calls) == 2 and sleeps == [0.3]


@responses.activate
def test_a_network_error_is_retried_then_named_connection_error(sleeps: list[float]) -> None:
    responses.post(FLAGS, body=requests.ConnectionError("refused"))
    with pytest.raises(RetryableTransportError) as raised:
        make().flags({})
    assert len(responses.calls) == 2 and error_code(raised.value) == "connection_error"


@responses.activate
def test_a_timeout_is_named_timeout(sleeps: list[float]) -> None:
    responses.post(FLAGS, body=requests.ReadTimeout("slow"))
    with pytest.raises(RetryableTransportError) as raised:
        make(max_retries=0).flags({})
    assert error_code(raised.value) == "timeout" and not sleeps


@pytest.mark.parametrize(
    ("status", "error"), [(500, RetryableTransportError), (401, RejectedError)]
)
@responses.activate
def test_other_errors_are_not_retried(
    status: int, error: type[Exception], sleeps: list[float]
) -> None:
    responses.post(FLAGS, status=status)
    with pytest.raises(error) as raised:
        make().flags({})
    assert len(responses.calls) == 1 and error_code(raised.value) == f"api_error_{status}"


@responses.activate
def test_definitions_are_polled_with_the_key_and_the_etag() -> None:
    url = f"{HOST}/flags/definitions?token=phc_k&send_cohorts"
    responses.get(url, json={"flags": []}, headers={"ETag": '"v1"'})
    responses.get(url, status=304)
    flags = make(secret_key="phx_secret")
    first = flags.definitions(None)
    assert (first.status, first.data, first.etag) == (200, {"flags": []}, '"v1"')
    assert flags.definitions('"v1"') == (304, None, '"v1"')
    assert responses.calls[0].request.headers["Authorization"] == "Bearer phx_secret"
    assert responses.calls[1].request.headers["If-None-Match"] == '"v1"'


@responses.activate
def test_remote_config_asks_for_the_flag_by_key() -> None:
    url = f"{HOST}/api/projects/@current/feature_flags/a%2Fb/remote_config?token=phc_k"
    responses.get(url, json='{"on": true}')
    assert make(secret_key="phx_secret").remote_config("a/b") == '{"on": true}'


def test_a_backend_that_answers_flags_is_asked_instead_of_the_network() -> None:
    class Answering:
        def flags(self, body: Any) -> dict[str, Any]:
            return {"asked": body}

    flags = make(backend=Answering(), secret_key="phx_secret")
    assert flags.flags({"x": 1}) == {"asked": {"x": 1}}
    assert not flags.local_evaluation_possible  # definitions are PostHog's, not the backend's
