"""The pytest plugin, exercised on small app test suites run by ``pytester``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import posthog_client
from posthog_client import _default
from posthog_client.testing import MemoryBackend

pytest_plugins = ["pytester"]

# As this repo runs: warnings are errors, markers must be registered (the plugin's is).
ARGS = ("-W", "error", "--strict-markers", "-p", "no:cacheprovider")

APP = '''
import os
import posthog_client


def login(user_id):
    """The app under test: tracks a launch, then the login."""
    posthog_client.init()
    posthog_client.capture("app_started", {"version": "2.1"})
    posthog_client.identify(user_id)
    posthog_client.capture("logged_in")
'''


def test_passing_tests(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(
        app=APP,
        test_app="""
        import os
        import posthog_client
        from app import login

        def test_login(posthog_recorder):
            assert posthog_client.get_client() is None
            assert os.environ["POSTHOG_CLIENT_BACKEND"] == "memory"
            login("user_42")
            posthog_recorder.assert_captured("app_started", person="user_42",
                                             properties={"version": "2.1"})
            person = posthog_recorder.assert_identified("user_42")
            assert [e["event"] for e in person.events] == ["app_started", "$identify", "logged_in"]
            storage = os.environ["POSTHOG_CLIENT_DIR"]
            assert str(posthog_client.get_client().options.project_dir).startswith(storage)
            assert os.listdir(storage)

        def test_isolated(posthog_recorder):
            assert posthog_recorder.events() == []
            client = posthog_client.Client()
            client.capture("own_client")
            posthog_recorder.assert_captured("own_client")
            posthog_recorder.assert_not_captured("app_started")
        """,
    )
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(passed=2)
    assert not (tmp_path / "xdg-data").exists() and not (tmp_path / "home").exists()


def test_failure_lists_what_was_captured(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        app=APP,
        test_app="""
        from app import login

        def test_checkout(posthog_recorder):
            login("user_42")
            posthog_recorder.assert_captured("checkout", distinct_id="user_42")

        def test_no_login_event(posthog_recorder):
            login("user_42")
            posthog_recorder.assert_not_captured("logged_in")

        def test_merged(posthog_recorder):
            login("user_42")
            posthog_recorder.assert_identified("user_42", anonymous_id="somebody_else")
        """,
    )
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            "E * AssertionError: no event 'checkout' (distinct_id='user_42') was captured.",
            "E * Persons (1):",
            "E * ids=[[]'*', 'user_42'[]] identified=True",
            "E * Captured events (3):",
            "E * 1. 'app_started' distinct_id='*' {'version': '2.1'}",
            "E * 2. '$identify' distinct_id='user_42' {'distinct_id': 'user_42'}",
            "E * 3. 'logged_in' distinct_id='user_42' {}",
            "E * AssertionError: expected no event 'logged_in', but 1 captured:",
            "E * 1. 'logged_in' distinct_id='user_42' {}",
            "E * does not own 'somebody_else', which no event used.",
        ]
    )
    # the failure points at the test, not into the recorder
    assert "posthog_client/testing.py" not in result.stdout.str()


STRICT_APP = """
import posthog_client

def test_bad_id(posthog_recorder):
    posthog_client.init()
    posthog_client.identify("null")

def test_bad_property(posthog_recorder):
    posthog_client.init()
    posthog_client.capture("opened", {"file": open})
"""


def test_strict_mode_fails_the_app_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=STRICT_APP)
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "E *.InvalidDistinctIdError: identify('null') refused: *",
            "E *.InvalidEventError: event 'opened': properties.file *",
        ]
    )


def test_strict_mode_off_by_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_app="""
        import pytest
        import posthog_client

        pytestmark = pytest.mark.posthog_client(strict=False)

        def test_bad_id(posthog_recorder):
            posthog_client.init()
            assert posthog_client.identify("null") is False
            posthog_recorder.assert_not_captured("$identify")
        """
    )
    pytester.runpytest(*ARGS).assert_outcomes(passed=1)


def test_strict_mode_off_for_a_suite(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def posthog_strict():
            return False
        """
    )
    pytester.makepyfile(test_app=STRICT_APP)
    pytester.runpytest(*ARGS).assert_outcomes(passed=2)


def test_environment_and_global_client_are_restored(
    pytester: pytest.Pytester, storage_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = posthog_client.init("phc_outer", backend=MemoryBackend(), storage_dir=storage_dir)
    monkeypatch.setenv("POSTHOG_CLIENT_DIR", str(storage_dir / "outer"))
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    before = dict(os.environ)
    pytester.makepyfile(
        test_app="""
        import posthog_client

        def test_replaces_the_global_client(posthog_recorder):
            posthog_client.init()
            posthog_client.capture("inner")
            posthog_recorder.assert_captured("inner")
        """
    )
    pytester.runpytest(*ARGS).assert_outcomes(passed=1)
    assert _default.client is previous
    assert {k: v for k, v in os.environ.items() if "POSTHOG" in k or "TRACK" in k} == {
        k: v for k, v in before.items() if "POSTHOG" in k or "TRACK" in k
    }
    assert not (storage_dir / "outer").exists()


def test_entry_point_loads_the_plugin_lazily(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_app="""
        import sys

        def test_plugin_loaded_but_idle(request):
            assert request.config.pluginmanager.has_plugin("posthog_client")
            assert "posthog_client.testing" not in sys.modules

        def test_fixture_available(posthog_recorder):
            assert posthog_recorder.events() == []
        """
    )
    # a subprocess: a fresh interpreter that finds the plugin only through its entry point
    result = pytester.runpytest_subprocess("-W", "error", "--strict-markers")
    result.assert_outcomes(passed=2)
