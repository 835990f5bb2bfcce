"""The local server's flag routes over HTTP, as PostHog's SDKs call them."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from posthog_client.server import LocalServer

from . import KEY, post_json, request
from .test_cli import TIMEOUT_S, read_line, serving

PERSONAL = "phx_flags"
FLAGS = {"beta": True, "exp": "test"}


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer(KEY, flags=FLAGS, personal_api_key=PERSONAL) as server:
        server.set_flags(FLAGS, payloads={"beta": {"limit": 3}})
        yield server


def values(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: d["variant"] or d["enabled"] for k, d in answer["flags"].items()}


def test_v2_and_legacy_answers(server: LocalServer) -> None:
    body = {"token": KEY, "distinct_id": "u1"}
    status, answer = post_json(server.url, "/flags/?v=2", body)
    assert status == 200 and values(answer) == FLAGS
    assert answer["flags"]["beta"]["metadata"]["payload"] == '{"limit": 3}'
    assert answer["requestId"] and answer["evaluatedAt"]
    status, legacy = post_json(server.url, "/flags", body)
    assert legacy["featureFlags"] == FLAGS and legacy["featureFlagPayloads"] == {
        "beta": '{"limit": 3}'
    }


def form(body: bytes) -> bytes:
    return b"data=" + quote(base64.b64encode(body)).encode()


@pytest.mark.parametrize(
    ("path", "encode", "headers"),
    [
        ("/flags/?v=2", gzip.compress, {"Content-Encoding": "gzip"}),
        ("/flags/?v=2&compression=base64", base64.b64encode, {}),
        ("/flags/?v=2", form, {"Content-Type": "application/x-www-form-urlencoded"}),
    ],
)
def test_bodies_in_every_encoding_posthog_takes(
    server: LocalServer, path: str, encode: Any, headers: dict[str, str]
) -> None:
    raw = json.dumps({"api_key": KEY, "distinct_id": "u1"}).encode()
    status, answer = request(server.url, "POST", path, encode(raw), headers)
    assert status == 200 and values(answer) == FLAGS


def test_non_finite_numbers_read_as_null(server: LocalServer) -> None:
    raw = b'{"token": "%s", "distinct_id": "u1", "person_properties": {"x": NaN}}' % KEY.encode()
    status, answer = request(server.url, "POST", "/flags/?v=2", raw)
    assert status == 200 and values(answer) == FLAGS


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{nope", 400),
        (b'{"token": "phc_other", "distinct_id": "u"}', 401),
        (b'{"distinct_id": "u"}', 401),
    ],
)
def test_bad_requests_are_refused(server: LocalServer, body: bytes, status: int) -> None:
    assert request(server.url, "POST", "/flags/?v=2", body)[0] == status


def test_get_flags_answers_no_flags(server: LocalServer) -> None:
    assert request(server.url, "GET", "/flags")[1]["flags"] == {}


def test_definitions_need_the_personal_key_and_answer_304_when_unchanged(
    server: LocalServer,
) -> None:
    path = f"/flags/definitions?token={KEY}&send_cohorts"
    assert request(server.url, "GET", path)[0] == 401
    assert (
        request(
            server.url,
            "GET",
            "/flags/definitions?token=phc_x",
            {},
            {"Authorization": f"Bearer {PERSONAL}"},
        )[0]
        == 401
    )
    auth = {"Authorization": f"Bearer {PERSONAL}"}
    status, document = request(server.url, "GET", path, None, auth)
    assert status == 200 and [f["key"] for f in document["flags"]] == ["beta", "exp"]
    assert document["group_type_mapping"] == {} and document["cohorts"] == {}
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", path, headers=auth)
        first = connection.getresponse()
        first.read()
        connection.request("GET", path, headers={**auth, "If-None-Match": first.getheader("ETag")})
        second = connection.getresponse()
        second.read()
    finally:
        connection.close()
    assert second.status == 304
    legacy = f"/api/feature_flag/local_evaluation?token={KEY}"
    assert request(server.url, "GET", legacy, None, auth)[1] == document


def test_remote_config_answers_the_payload(server: LocalServer) -> None:
    auth = {"Authorization": f"Bearer {PERSONAL}"}
    path = f"/api/projects/@current/feature_flags/beta/remote_config?token={KEY}"
    assert request(server.url, "GET", path, None, auth) == (200, '{"limit": 3}')
    missing = f"/api/projects/@current/feature_flags/nope/remote_config?token={KEY}"
    assert request(server.url, "GET", missing, None, auth)[0] == 404


@pytest.mark.slow
def test_serve_answers_flags_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps({"new-ui": True}))
    with serving(["serve", "--port", "0", "--api-key", KEY, "--flags", str(path)]) as (
        process,
        url,
        _,
    ):
        deadline = time.monotonic() + TIMEOUT_S
        assert "feature flags" in "".join(read_line(process, deadline) for _ in range(2))
        _, answer = post_json(url, "/flags/?v=2", {"token": KEY, "distinct_id": "u"})
        assert values(answer) == {"new-ui": True}


def test_serve_refuses_a_broken_flags_file(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text("[{]")
    result = subprocess.run(
        [sys.executable, "-m", "posthog_client.cli", "serve", "--port", "0", "--flags", str(path)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert result.returncode == 1 and "flags.json" in result.stderr
