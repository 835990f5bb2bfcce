"""``MixpanelEngine``: validation, answers, deduplication, profiles, groups, credentials."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from posthog_client.server.mixpanel import MixpanelEngine, ServiceAccount

from . import NOW, T0, TOKEN

MS = int(T0.timestamp() * 1000)
ACCOUNT = ServiceAccount("sa", "secret", "7")


def basic(user: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def event(name: str = "Opened", distinct_id: str = "u1", **properties: Any) -> dict[str, Any]:
    props = {
        "token": TOKEN,
        "distinct_id": distinct_id,
        "time": MS,
        "$insert_id": uuid.uuid4().hex,
        **properties,
    }
    return {"event": name, "properties": {k: v for k, v in props.items() if v is not None}}


def post(
    engine: MixpanelEngine, endpoint: str, records: object, auth: str | None = None, **query: str
) -> tuple[int, Any]:
    answer = engine.handle(
        endpoint,  # type: ignore[arg-type]
        json.dumps(records).encode(),
        query={k: [v] for k, v in query.items()},
        content_type="application/json",
        authorization=auth if auth is not None else basic(TOKEN),
        now=NOW,
    )
    return answer.status, answer.json()


@pytest.fixture
def engine() -> Any:
    with MixpanelEngine(model="original", token=TOKEN, service_account=ACCOUNT) as engine:
        yield engine


def test_strict_import_is_a_partial_success_naming_each_failed_record(
    engine: MixpanelEngine,
) -> None:
    records = [
        event(),
        event(time=None),
        event(**{"$insert_id": "not valid!"}),
        event(distinct_id="null"),
        event(time=MS + 7_200_000 + 86_400_000),  # beyond NOW + 1 h
        event("Second"),
    ]
    status, body = post(engine, "import", records)
    assert status == 400
    assert body["num_records_imported"] == 2
    failed = [(f["index"], f["field"]) for f in body["failed_records"]]
    assert failed == [
        (1, "properties.time"),
        (2, "properties.$insert_id"),
        (3, "properties.distinct_id"),
        (4, "properties.time"),
    ]
    assert [e.event for e in engine.events("u1")] == ["Opened", "Second"]


def test_all_valid_import_answers_ok(engine: MixpanelEngine) -> None:
    assert post(engine, "import", [event(), event()]) == (
        200,
        {"code": 200, "num_records_imported": 2, "status": "OK"},
    )


def test_import_credentials(engine: MixpanelEngine) -> None:
    unauthorized = (401, {"code": 401, "error": "Invalid credentials", "status": "Unauthorized"})
    assert post(engine, "import", [event()], auth="") == unauthorized
    assert post(engine, "import", [event()], auth=basic("other-token")) == unauthorized
    assert post(engine, "import", [event()], auth=basic(TOKEN, "x")) == unauthorized
    assert post(engine, "import", [event()], auth=basic("sa", "secret"), project_id="8")[0] == 401
    assert post(engine, "import", [event()], auth=basic("sa", "secret"), project_id="7")[0] == 200


def test_merge_needs_a_service_account(engine: MixpanelEngine) -> None:
    merge = {"event": "$merge", "properties": {"$distinct_ids": ["a", "b"], "token": TOKEN}}
    post(engine, "import", [event(distinct_id="a"), event(distinct_id="b")])
    assert post(engine, "import", [merge])[0] == 200  # valid data, refused identity effect
    assert [r.reason for r in engine.refusals()] == ["errMergeNotAuthorized"]
    assert engine.person("a").distinct_ids == ("a",)  # type: ignore[union-attr]
    post(engine, "import", [merge], auth=basic("sa", "secret"), project_id="7")
    assert engine.person("a").distinct_ids == ("a", "b")  # type: ignore[union-attr]


def test_track_answers_1_unless_every_record_is_invalid(engine: MixpanelEngine) -> None:
    assert post(engine, "track", [event(), {"event": ""}]) == (200, 1)
    assert post(engine, "track", [{"event": ""}]) == (200, 0)
    status, body = post(engine, "track", [{"event": ""}], verbose="1")
    assert (status, body["status"]) == (200, 0) and "non-empty" in body["error"]


def test_track_drops_wrong_tokens_ignored_and_expired_events_counted() -> None:
    with MixpanelEngine(token=TOKEN) as engine:
        report = engine.ingest(
            "track",
            [
                event(token="other"),
                event(token=None),
                event(**{"$ignore": True}),
                event(time=MS - 6 * 86_400_000),
                event(time=MS + 10 * 86_400_000),  # in the future: now
                event(time=None),  # absent: now
            ],
            now=NOW,
        )
        assert report.dropped == {"token": 2, "ignored": 1, "expired": 1}
        assert report.imported == 2 and not report.failed
        assert [e.time for e in engine.events()] == [NOW, NOW]


def test_events_are_deduplicated_on_insert_id_and_the_last_copy_wins(
    engine: MixpanelEngine,
) -> None:
    first = event(plan="free")
    again = json.loads(json.dumps(first))
    again["properties"]["plan"] = "pro"
    post(engine, "import", [first])
    report = engine.ingest("import", [again], now=NOW)
    assert report.duplicates == 1
    assert [e.properties["plan"] for e in engine.events("u1")] == ["pro"]
    other_time = event(**{"$insert_id": first["properties"]["$insert_id"], "time": MS + 1})
    engine.ingest("import", [other_time], now=NOW)
    assert len(engine.events("u1")) == 2  # the key includes time (MA10)


def test_record_shape_limits_and_string_cutting(engine: MixpanelEngine) -> None:
    deep = {"a": {"b": {"c": {"d": 1}}}}
    too_many = {f"k{i}": i for i in range(255)}
    status, body = post(
        engine, "import", [event(nest=deep), event(**too_many), event(text="x" * 300)]
    )
    assert status == 400
    assert [f["index"] for f in body["failed_records"]] == [0, 1]
    assert engine.events("u1")[0].properties["text"] == "x" * 255


def test_identity_events_need_only_their_identity_fields(engine: MixpanelEngine) -> None:
    alias = {"event": "$create_alias", "properties": {"distinct_id": "u1", "alias": "a1"}}
    assert post(engine, "import", [alias]) == (
        200,
        {"code": 200, "num_records_imported": 1, "status": "OK"},
    )
    status, body = post(engine, "import", [{"event": "$create_alias", "properties": {}}])
    assert status == 400 and body["failed_records"][0]["field"] == "properties.alias"


def test_original_identify_refusals_in_flowchart_order() -> None:
    anon = "$device:" + str(uuid.uuid4())
    with MixpanelEngine(model="original", token=TOKEN) as engine:

        def identify(user: str, anon_id: str) -> None:
            props = {"$identified_id": user, "$anon_id": anon_id, "token": TOKEN}
            engine.ingest("track", [{"event": "$identify", "properties": props}], now=NOW)

        identify("u1", "u1")
        identify("u1", "12345")
        identify("u1", anon)
        identify("u2", anon)
        assert [r.reason for r in engine.refusals()] == [
            "errSameIDs",
            "errAnonDistinctIdNonGUIDForm",
            "errAnonDistinctIdAssignedAlready",
        ]
        assert engine.person(anon).distinct_ids == ("u1", anon)  # type: ignore[union-attr]
        stored = engine.events("u2")[0].properties
        assert stored["$failure_reason"] == "errAnonDistinctIdAssignedAlready"


def test_original_clusters_stop_below_500_ids() -> None:
    with MixpanelEngine(model="original", token=TOKEN) as engine:
        aliases = [
            {"event": "$create_alias", "properties": {"distinct_id": "u", "alias": f"a{i}"}}
            for i in range(500)
        ]
        engine.ingest("import", aliases, now=NOW)
        assert len(engine.person("u").distinct_ids) == 499  # type: ignore[union-attr]
        assert [r.reason for r in engine.refusals()] == ["errManyIDs"] * 2  # a498, a499


def test_profile_operations() -> None:
    with MixpanelEngine(model="legacy", token=TOKEN) as engine:
        updates = [
            {"$set": {"name": "Sally", "plan": "free", "tags": ["a"]}},
            {"$set_once": {"name": "Other", "first": 1}},
            {"$add": {"logins": 2, "name": 1}},
            {"$add": {"logins": 1.5}},
            {"$append": {"tags": "b", "name": "x"}},
            {"$union": {"tags": ["b", "c", True], "seen": [1, 1]}},
            {"$remove": {"tags": "a"}},
            {"$union": {"tags": [1]}},  # 1 is not true
            {"$unset": ["plan"]},
        ]
        records = [{"$token": TOKEN, "$distinct_id": "s", **update} for update in updates]
        assert post(engine, "engage", records) == (200, 1)
        person = engine.person("s")
        assert person is not None and person.properties == {
            "name": "Sally",
            "first": 1,
            "logins": 3.5,
            "tags": ["b", "c", True, 1],
            "seen": [1],
        }
        post(engine, "engage", [{"$token": TOKEN, "$distinct_id": "s", "$delete": ""}])
        deleted = engine.person("s")
        assert deleted is not None and not deleted.has_profile and deleted.properties == {}


def test_profile_operations_apply_in_time_order(engine: MixpanelEngine) -> None:
    late = {"$token": TOKEN, "$distinct_id": "u1", "$time": MS / 1000 + 10, "$set": {"p": 2}}
    early = {"$token": TOKEN, "$distinct_id": "u1", "$time": MS / 1000, "$set": {"p": 1}}
    post(engine, "engage", [late, early])
    assert engine.person("u1").properties == {"p": 2}  # type: ignore[union-attr]


def test_engage_refuses_gzip_and_invalid_operations(engine: MixpanelEngine) -> None:
    record = {"$token": TOKEN, "$distinct_id": "u1", "$set": {"a": 1}}
    answer = engine.handle("engage", gzip.compress(json.dumps(record).encode()))
    assert answer.body == b"0"
    bad = [
        {"$token": TOKEN, "$distinct_id": "u1", "$add": {"a": "x"}},
        {"$token": TOKEN, "$distinct_id": "u1"},
        {"$token": TOKEN, "$set": {"a": 1}},
    ]
    report = engine.ingest("engage", bad, now=NOW)
    assert [f.field for f in report.failed] == ["$add", "record", "$distinct_id"]


def test_groups(engine: MixpanelEngine) -> None:
    base = {"$token": TOKEN, "$group_key": "company", "$group_id": "acme"}
    post(engine, "groups", [{**base, "$set": {"name": "Acme", "size": 10}}])
    post(engine, "groups", [{**base, "$set_once": {"name": "Other", "founded": 1999}}])
    post(engine, "groups", [{**base, "$group_id": "gone", "$set": {"a": 1}}])
    post(engine, "groups", [{**base, "$group_id": "gone", "$delete": ""}])
    assert [g.to_json() for g in engine.groups()] == [
        {"group_key": "company", "group_id": "acme", "name": "Acme", "size": 10, "founded": 1999}
    ]


def test_simplified_device_keeps_its_first_user_and_device_profiles_stay_apart() -> None:
    with MixpanelEngine(model="simplified", token=TOKEN) as engine:
        post(engine, "engage", [{"$token": TOKEN, "$distinct_id": "$device:d", "$set": {"a": 1}}])
        linked = event(distinct_id="", **{"$device_id": "d", "$user_id": "u1"})
        other = event(distinct_id="", **{"$device_id": "d", "$user_id": "u2"})
        post(engine, "import", [linked, other])
        post(engine, "engage", [{"$token": TOKEN, "$distinct_id": "$device:d", "$set": {"b": 2}}])
        user = engine.person("$device:d")
        assert user is not None and user.distinct_id == "u1"
        assert user.properties == {"b": 2}  # MI17: the device's own profile was not carried
        refusal = engine.refusals()[0]
        assert (refusal.reason, refusal.distinct_id) == ("errDeviceLinkedToOtherUser", "")
        assert engine.events("u2")[0].properties["$identity_failure_reason"]


def test_a_store_keeps_its_model(tmp_path: Path) -> None:
    path = tmp_path / "mixpanel.db"
    with MixpanelEngine(path, model="legacy", token=TOKEN) as engine:
        engine.ingest("track", [event(time=None)])
    with pytest.raises(ValueError, match="'legacy' model"):
        MixpanelEngine(path, model="simplified", token=TOKEN)
    with MixpanelEngine(path, model="legacy", token=TOKEN) as engine:
        assert len(engine.events()) == 1
    with pytest.raises(ValueError, match="unknown"):
        MixpanelEngine(model="new", token=TOKEN)  # type: ignore[arg-type]
