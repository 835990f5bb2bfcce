"""The seed's story told by this SDK's own client in Mixpanel mode, over HTTP, to the local server
started in each Mixpanel mode: her devices are storage dirs, her web sign-up a real process.

1. web, first run (a process): two "Page Viewed", sign-up ``alias(S)``, "Signed Up";
2. the backend (server mode): "Plan Purchased" for S;
3. web, a later login: ``identify(S)``, "Settings Opened";
4. phone: two "App Opened"; login with a second ``alias(S)``, which fails, then ``identify(S)``,
   the remedy; "Item Viewed";
5. phone logout: ``reset()``; "App Opened" by whoever uses it next.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

import pytest

from posthog_client import Client
from posthog_client._mixpanel import LINK_EVENT
from posthog_client.server import LocalServer
from posthog_client.server.mixpanel import DEFAULT_TOKEN, IdMerge, MixpanelEngine

from .. import get_json
from . import S

_WEB_SIGNUP = textwrap.dedent(
    """
    import sys
    from posthog_client import Client
    url, storage, model = sys.argv[1:4]
    app = Client(mixpanel_token=sys.argv[4], host=url, storage_dir=storage,
                 mixpanel_id_merge=model)
    app.capture("Page Viewed")
    app.capture("Page Viewed")
    print(app.alias(sys.argv[5]))  # sign-up; refused locally under Simplified (D5)
    app.capture("Signed Up")
    print(app.flush(10).pending)
    """
)


def device(server: LocalServer, storage: Path, model: IdMerge) -> Client:
    return Client(
        mixpanel_token=DEFAULT_TOKEN,
        host=server.url,
        storage_dir=storage,
        mixpanel_id_merge=model,
        flush_at=1000,
    )


def users(engine: MixpanelEngine) -> dict[str, Counter[str]]:
    """Each user's canonical id → the app's events it owns (Mixpanel's own left out)."""
    return {
        person.distinct_id: Counter(e.event for e in engine.events(person) if e.event[0] != "$")
        for person in engine.persons()
    }


def tell(server: LocalServer, tmp_path: Path, model: IdMerge) -> tuple[str, str, str]:
    """Play the story; returns the anonymous ids of the web, the phone, and the phone after
    logout."""
    web_dir, phone_dir = tmp_path / "web", tmp_path / "phone"
    signup = subprocess.run(
        [sys.executable, "-c", _WEB_SIGNUP, server.url, str(web_dir), model, DEFAULT_TOKEN, S],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert signup.stdout.split() == [str(model != "simplified"), "0"], signup.stderr
    with Client(
        mixpanel_token=DEFAULT_TOKEN, host=server.url, mode="server", mixpanel_id_merge=model
    ) as backend:
        backend.capture("Plan Purchased", distinct_id=S)
        assert backend.flush(10).pending == 0
    with device(server, web_dir, model) as web:
        web_id = web.get_distinct_id()  # the process's anonymous id, read back from disk
        assert web.identify(S)
        web.capture("Settings Opened")
        assert web.flush(10).pending == 0
    with device(server, phone_dir, model) as phone:
        phone_id = phone.get_distinct_id()
        phone.capture("App Opened")
        phone.capture("App Opened")
        assert phone.alias(S) is (model != "simplified")  # sent, and refused by Mixpanel
        assert phone.identify(S)
        phone.capture("Item Viewed")
        phone.reset()
        after_logout = phone.get_distinct_id()
        phone.capture("App Opened")
        assert phone.flush(10).pending == 0
    return web_id, phone_id, after_logout


def test_legacy_the_phones_anonymous_events_stay_orphaned(tmp_path: Path) -> None:
    with LocalServer(identity="mixpanel-legacy") as server:
        web, phone, next_user = tell(server, tmp_path, "legacy")
        assert users(server.mixpanel) == {
            web: Counter(["Page Viewed", "Page Viewed", "Signed Up", "Plan Purchased",
                          "Settings Opened", "Item Viewed"]),
            phone: Counter(["App Opened", "App Opened"]),  # MI4
            next_user: Counter(["App Opened"]),
        }  # fmt: skip
        assert [r.reason for r in server.mixpanel.refusals()] == ["errAliasAlreadyExists"]
        sally = get_json(server.url, "/api/persons?" + urlencode({"distinct_id": S}))[1]
        assert sally["distinct_id"] == web and sorted(sally["distinct_ids"]) == sorted([web, S])


@pytest.mark.parametrize("model", ["original", "simplified"])
def test_the_phones_login_joins_everything_into_one_user(tmp_path: Path, model: IdMerge) -> None:
    with LocalServer(identity=f"mixpanel-{model}") as server:  # type: ignore[arg-type]
        web, phone, next_user = tell(server, tmp_path, model)
        links = [LINK_EVENT, LINK_EVENT] if model == "simplified" else []  # D6
        assert users(server.mixpanel) == {
            S: Counter(["Page Viewed", "Page Viewed", "Signed Up", "Plan Purchased",
                        "Settings Opened", "App Opened", "App Opened", "Item Viewed", *links]),
            next_user: Counter(["App Opened"]),  # reset: a new device, a new user
        }  # fmt: skip
        refusals = [r.reason for r in server.mixpanel.refusals()]
        assert refusals == (["errAliasAlreadyExists"] if model == "original" else [])
        sally = get_json(server.url, "/api/persons?" + urlencode({"distinct_id": phone}))[1]
        assert sally["distinct_id"] == S and {web, phone, S} <= set(sally["distinct_ids"])
        assert next_user not in sally["distinct_ids"]
