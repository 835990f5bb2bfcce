"""The person explorer's pages over HTTP (no browser): content, escaping, paging, headers."""

from __future__ import annotations

import http.client
import re
from datetime import timedelta
from urllib.parse import quote, urlsplit

import pytest

from posthog_client.server import LocalServer

from . import KEY, T0, alias, event, identify


def fetch(server: LocalServer, path: str) -> tuple[int, str, http.client.HTTPResponse]:
    url = urlsplit(server.url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        text = response.read().decode()
    finally:
        connection.close()
    return response.status, text, response


def rows(page: str, table: str) -> list[str]:
    """The text of each body row of the table with id ``table``, tags removed."""
    body = page.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return [re.sub(r"<[^>]+>", " ", row) for row in body.split("<tr")[2:]]


@pytest.fixture
def story(server: LocalServer) -> LocalServer:
    minute = timedelta(minutes=1)
    server.engine.ingest(
        [
            event("$pageview", "anon-a", {"$current_url": "https://a/1"}, at=T0),
            identify("alice", "anon-a", {"$set": {"email": "alice@example.com"}}, at=T0 + minute),
            alias("alice", "backend-7f3a", at=T0 + 2 * minute),
            event("invoice_paid", "backend-7f3a", {"amount": 42}, at=T0 + 3 * minute),
            identify("bob", "anon-b", {"$set": {"email": "bob@example.com"}}, at=T0 + 4 * minute),
        ]
    )
    return server


def person_path(server: LocalServer, distinct_id: str) -> str:
    person = server.engine.person(distinct_id)
    assert person is not None
    return f"/persons/{person.uuid}"


def test_persons_page_lists_newest_first_with_ids_and_counts(story: LocalServer) -> None:
    status, page, response = fetch(story, "/")
    assert status == 200 and response.getheader("Content-Type") == "text/html; charset=utf-8"
    bob, alice = rows(page, "persons")
    assert "bob@example.com" in bob and "anon-b" in bob
    assert "alice@example.com" in alice and "backend-7f3a" in alice and " 4 " in alice
    assert '2 persons · 5 events · <a href="/warnings">0 ingestion warnings</a>' in page


@pytest.mark.parametrize(
    ("search", "found"),
    [("backend-7f3a", ["alice"]), ("bob@", ["bob"]), ("email=alice@example.com", ["alice"])],
)
def test_search_finds_persons_by_alias_or_property(
    story: LocalServer, search: str, found: list[str]
) -> None:
    status, page, _ = fetch(story, f"/?q={quote(search)}")
    assert status == 200
    assert [
        name for name in ("alice", "bob") if any(f"{name}@" in r for r in rows(page, "persons"))
    ] == found
    assert f'value="{search}"' in page


def test_person_page_shows_ids_sources_merges_and_the_whole_timeline(story: LocalServer) -> None:
    status, page, _ = fetch(story, person_path(story, "backend-7f3a"))
    assert status == 200
    ids = page.split('id="distinct-ids"', 1)[1].split("</div>", 1)[0]
    assert [i for i in ("anon-a", "alice", "backend-7f3a") if i in ids] == [
        "anon-a",
        "alice",
        "backend-7f3a",
    ]
    [email] = [r for r in rows(page, "properties") if "email" in r]
    assert "$set" in email and "$identify" in email
    merges = rows(page, "merges")
    assert "anon-a" in merges[0] and "joined" in merges[0]  # anon-a had a person: alice joins
    assert "backend-7f3a" in merges[1] and "joined" in merges[1]
    names = re.findall(r'class="event-name">([^<]+)<', page)
    assert names == ["invoice_paid", "$create_alias", "$identify", "$pageview"]
    assert len(rows(page, "timeline")) == 4  # the events of every id
    status, oldest, _ = fetch(story, person_path(story, "alice") + "?order=oldest")
    assert re.findall(r'class="event-name">([^<]+)<', oldest) == names[::-1]


def test_a_refused_merge_shows_its_warning_on_both_persons(story: LocalServer) -> None:
    story.engine.ingest([identify("alice", "bob")])
    for distinct_id in ("alice", "bob"):
        _, page, _ = fetch(story, person_path(story, distinct_id))
        refused = [r for r in rows(page, "merges") if "refused" in r]
        assert len(refused) == 1 and "cannot_merge_already_identified" in refused[0]
    _, alice, _ = fetch(story, person_path(story, "alice"))
    assert "cannot_merge_already_identified" in alice.split('id="person-warnings"', 1)[1]


def test_a_merged_away_person_redirects_to_the_survivor(server: LocalServer) -> None:
    server.engine.ingest([event("$pageview", "anon"), event("$pageview", "user")])
    anon = server.engine.person("anon")
    assert anon is not None
    server.engine.ingest([identify("user", "anon")])
    status, _, response = fetch(server, f"/persons/{anon.uuid}")
    assert status == 303 and response.getheader("Location") == person_path(server, "user")
    assert fetch(server, "/persons/no-such-person")[0] == 404


def test_a_person_without_a_name_property_is_called_by_its_first_non_uuid_id(
    server: LocalServer,
) -> None:
    anonymous = "01a22aee-67a8-71bf-b148-1702ef3a34b4"
    server.engine.ingest([event("$pageview", anonymous), identify("carol", anonymous)])
    _, page, _ = fetch(server, person_path(server, "carol"))
    assert '<h1 id="person-name">carol ' in page


def test_stored_text_is_escaped(server: LocalServer) -> None:
    hostile = '<script>alert(1)</script>"'
    server.engine.ingest([event(hostile, hostile, {"$set": {hostile: hostile}})])
    for path in ("/", person_path(server, hostile), "/events", f"/?q={quote(hostile)}"):
        status, page, _ = fetch(server, path)
        assert status == 200 and "<script>alert" not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;" in page, path


def test_pages_forbid_inline_code_and_framing(story: LocalServer) -> None:
    _, page, response = fetch(story, "/")
    policy = response.getheader("Content-Security-Policy") or ""
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.getheader("X-Frame-Options") == "DENY"
    assert "<script>" not in page and "style=" not in page
    for asset, kind in (("/explorer/app.css", "text/css"), ("/explorer/app.js", "text/javascript")):
        status, _, asset_response = fetch(story, asset)
        assert status == 200 and (asset_response.getheader("Content-Type") or "").startswith(kind)


def test_events_and_warnings_pages(story: LocalServer) -> None:
    later = T0 + timedelta(hours=1)
    story.engine.ingest([event("$pageview", "x", {"$process_person_profile": "maybe"}, at=later)])
    _, events, _ = fetch(story, "/events")
    assert re.findall(r'class="event-name">([^<]+)<', events)[0] == "$pageview"
    _, warnings, _ = fetch(story, "/warnings")
    assert "invalid_process_person_profile" in rows(warnings, "warnings")[0]


def test_long_lists_are_paged(server: LocalServer) -> None:
    server.engine.ingest([event("$pageview", f"u{n}") for n in range(60)])
    _, first, _ = fetch(server, "/")
    assert len(rows(first, "persons")) == 50 and "1–50 of 60" in first
    assert 'href="/?offset=50"' in first
    _, second, _ = fetch(server, "/?offset=50")
    assert len(rows(second, "persons")) == 10 and "51–60 of 60" in second
    status, page, _ = fetch(server, "/?offset=-1")
    assert status == 400 and "offset" in page


def test_revision_tells_the_page_when_to_refresh(server: LocalServer) -> None:
    _, before, _ = fetch(server, "/explorer/revision")
    server.engine.ingest([event("$pageview", "u1")])
    _, after, _ = fetch(server, "/explorer/revision")
    assert before != after
    _, page, _ = fetch(server, "/")
    assert f'name="explorer-revision" content="{server.engine.revision}"' in page


def test_key_is_not_needed_on_loopback(server: LocalServer) -> None:
    assert server.explorer_url == f"{server.url}/"
    assert fetch(server, "/")[0] == 200
    assert KEY not in fetch(server, "/")[1]  # the project key is never shown
