"""The route table: patterns, parameters, optional trailing slash, first match wins."""

from __future__ import annotations

from email.message import Message

import pytest

from posthog_client.server._router import Request, Response, Route, Router


def answer(text: str) -> Response:
    return Response(200, text.encode())


ROUTER = Router(
    [
        Route("GET", "/", lambda r: answer("root")),
        Route("GET", "/api/persons", lambda r: answer("list")),
        Route("GET", "/api/persons/{uuid}", lambda r: answer(r.params["uuid"])),
        Route("GET", "/api/persons/{uuid}/merges", lambda r: answer("merges")),
        Route("POST", "/batch", lambda r: answer("batch"), body_limit=10),
    ]
)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/", "root"),
        ("GET", "", "root"),
        ("GET", "/api/persons/", "list"),
        ("GET", "/api/persons/p-1", "p-1"),
        ("GET", "/api/persons/p-1/merges/", "merges"),
        ("POST", "/batch/", "batch"),
        ("POST", "//batch", "batch"),
    ],
)
def test_routes_match_with_or_without_trailing_slash(method: str, path: str, body: str) -> None:
    found = ROUTER.match(method, path)
    assert found is not None
    route, params = found
    request = Request(method, path, {}, Message(), params=params)
    assert route.handler(request).body == body.encode()


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/batch"), ("POST", "/"), ("GET", "/api/persons/a/b"), ("GET", "/api/people")],
)
def test_no_route_for_other_methods_or_paths(method: str, path: str) -> None:
    assert ROUTER.match(method, path) is None


def test_request_first_value_of_a_parameter() -> None:
    request = Request("GET", "/", {"q": ["a", "b"], "e": []}, Message())
    assert (request.first("q"), request.first("e"), request.first("x")) == ("a", None, None)


def test_error_responses_have_posthogs_shape() -> None:
    response = Response.error(400, "bad", "no", close=True)
    assert response.close and response.content_type == "application/json"
    assert response.body == b'{"status": 400, "code": "bad", "error": "no"}'
