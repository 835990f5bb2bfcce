"""Typed options: one declaration on ``Client.__init__``, validated at construction, documented in
the README, and checked by mypy in user code."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import posthog_client
from posthog_client import Client, ConfigurationError
from posthog_client._config import Options
from posthog_client.testing import MemoryBackend

ROOT = Path(posthog_client.__file__).parent.parent
OPTION_PARAMETERS = [
    p for p in inspect.signature(Client).parameters.values() if p.kind is p.KEYWORD_ONLY
]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"persist": "no"}, ("persist", "'no'", "True or False")),
        ({"flush_at": "3"}, ("flush_at", "'3'", "an int >= 1")),
        ({"flush_at": 0}, ("flush_at", "0", "an int >= 1")),
        ({"flush_at": True}, ("flush_at", "True", "an int")),
        ({"mode": "serverless"}, ("mode", "'serverless'", "'desktop', 'server'")),
        ({"super_properties": ["a"]}, ("super_properties", "['a']", "a dict")),
        ({"timeout_s": -1}, ("timeout_s", "-1", "> 0")),
        ({"shutdown_timeout_s": -0.5}, ("shutdown_timeout_s", "-0.5", ">= 0")),
        ({"shutdown_timeout_s": float("inf")}, ("shutdown_timeout_s", "inf", "seconds")),
        ({"person_profiles": "sometimes"}, ("person_profiles", "'sometimes'", "'always'")),
        ({"max_retries": -1}, ("max_retries", "-1", "an int >= 0")),
        ({"backend": object()}, ("backend", "object", "send(batch) and close()")),
        ({"storage_dir": 42}, ("storage_dir", "42", "a path")),
        ({"host": "eu.i.posthog.com"}, ("host", "'eu.i.posthog.com'", "http:// or https://")),
        ({"secret_key": 7}, ("secret_key", "7", "non-empty secret key")),
        ({"flags_timeout_s": 0}, ("flags_timeout_s", "0", "> 0")),
        ({"flags_refresh_interval_s": -1}, ("flags_refresh_interval_s", "-1", ">= 0")),
        ({"capture_api": "v2"}, ("capture_api", "'v2'", "'v0', 'v1'")),
        ({"compression": "br"}, ("compression", "'br'", "'gzip', 'deflate'")),
        ({"compression": "deflate"}, ("compression", "deflate", 'capture_api="v1"')),
        ({"historical_migration": 1}, ("historical_migration", "1", "True or False")),
        ({"mixpanel_token": ""}, ("mixpanel_token", "''", "project token")),
        ({"mixpanel_region": "de"}, ("mixpanel_region", "'de'", "'eu'")),
        ({"mixpanel_id_merge": "v2"}, ("mixpanel_id_merge", "'v2'", "'simplified'")),
        ({"mixpanel_service_account": ("u", "s")}, ("mixpanel_service_account", "project_id")),
    ],
)
def test_a_bad_value_names_the_option_the_value_and_what_is_accepted(
    options: dict[str, Any], named: tuple[str, ...]
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Client("phc_test", **options)
    for part in named:
        assert part in str(raised.value)


def test_good_values_of_every_type_are_accepted(tmp_path: Path) -> None:
    client = Client(
        "phc_test",
        storage_dir=tmp_path,
        flush_at=1,
        flush_interval_s=1,  # an int is a fine number of seconds
        shutdown_timeout_s=0,
        super_properties={"app": "x"},
        persist=False,
    )
    assert client.options.flush_interval_s == 1
    assert client.options.storage_dir == tmp_path
    client.shutdown(0)


def test_client_parameters_and_options_record_list_the_same_options() -> None:
    names = [p.name for p in OPTION_PARAMETERS]
    assert ["api_key", *names] == list(Options._fields)


def test_every_parameter_default_is_the_option_default_or_none_for_environment() -> None:
    defaults = Options._field_defaults
    for parameter in OPTION_PARAMETERS:
        if parameter.default is None:
            continue  # resolved from the environment or the mode, else the record's default
        assert parameter.default == defaults[parameter.name], parameter.name


def test_readme_option_table_lists_every_option() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    documented = [re.match(r"\| `(\w+)`", row).group(1) for row in rows]  # type: ignore[union-attr]
    assert documented == [p.name for p in OPTION_PARAMETERS]


def test_mypy_rejects_a_misspelt_or_mistyped_option_in_user_code(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api")  # in the test extra; CI always has it
    user_code = tmp_path / "app.py"
    user_code.write_text(
        textwrap.dedent(
            """
            import posthog_client

            posthog_client.Client("k", flush_at=3, mode="server")
            posthog_client.init("k", host="https://eu.i.posthog.com")
            posthog_client.Client("k", flush_at_=3)
            posthog_client.init("k", flush_at="3")
            posthog_client.Client("k", mode="serverless")
            """
        )
    )
    out, _, status = api.run(
        [
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--no-error-summary",
            str(user_code),
        ]
    )
    errors = sorted(int(m) for m in re.findall(r"app\.py:(\d+): error", out))
    assert status == 1, out
    assert errors == [6, 7, 8], out  # the three wrong calls, never the two right ones
    assert "flush_at_" in out and "serverless" in out


# -- the environment ---------------------------------------------------------------------------


def test_an_explicit_argument_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("POSTHOG_API_KEY", "phc_env")
    monkeypatch.setenv("POSTHOG_HOST", "https://eu.i.posthog.com")
    monkeypatch.setenv("POSTHOG_CLIENT_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("POSTHOG_CLIENT_DEBUG", "1")
    options = Options.resolve(
        "phc_app", host="https://app.example", storage_dir=tmp_path / "app", debug=False
    )
    assert (options.api_key, options.host) == ("phc_app", "https://app.example")
    assert (options.storage_dir, options.debug) == (tmp_path / "app", False)


@pytest.mark.parametrize(
    ("name", "value"),
    [("POSTHOG_HOST", "eu.i.posthog.com"), ("POSTHOG_CLIENT_BACKEND", "nonsense")],
)
def test_an_unusable_environment_value_is_ignored_with_a_warning_never_raised(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(name, value)
    client = Client("phc_app", persist=False)
    assert client.options.host == "https://us.i.posthog.com"
    assert f"{name}={value!r}" in caplog.text
    client.shutdown(0)


def test_read_env_false_reads_no_posthog_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in {
        "POSTHOG_API_KEY": "phc_user",
        "POSTHOG_HOST": "https://users-own-posthog.example",
        "POSTHOG_CLIENT_DIR": str(tmp_path / "users-dir"),
        "POSTHOG_CLIENT_DEBUG": "1",
        "POSTHOG_CLIENT_STRICT": "1",
        "POSTHOG_CLIENT_BACKEND": "memory",
    }.items():
        monkeypatch.setenv(name, value)
    options = Options.resolve("phc_app", read_env=False)
    assert (options.api_key, options.host) == ("phc_app", "https://us.i.posthog.com")
    assert options.storage_dir is None and options.backend is None
    assert not options.debug and not options.strict
    with pytest.raises(ConfigurationError, match="api_key is required"):
        Options.resolve(read_env=False)  # POSTHOG_API_KEY is not read either


@pytest.mark.parametrize(
    "host", ["http://host:abc", "http://", "https://a b.example", "http://[::1]x", "http://h:99999"]
)
def test_a_host_the_http_stack_cannot_use_is_refused_when_the_client_is_built(
    host: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(ConfigurationError, match="valid host and port"):
        Client("phc_app", host=host, persist=False)
    monkeypatch.setenv("POSTHOG_HOST", host)  # from the environment: ignored, never raised
    assert Options.resolve("phc_app").host == "https://us.i.posthog.com"
    assert "POSTHOG_HOST=" in caplog.text


_ENV_VALUES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"))
_ENV_NAMES = ("POSTHOG_API_KEY", "POSTHOG_HOST", "POSTHOG_CLIENT_DIR", "POSTHOG_CLIENT_DEBUG",
              "POSTHOG_CLIENT_STRICT", "POSTHOG_CLIENT_BACKEND", "POSTHOG_CLIENT_DISABLED",
              "DO_NOT_TRACK")  # fmt: skip


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    environment=st.dictionaries(
        st.sampled_from(_ENV_NAMES),
        _ENV_VALUES | st.sampled_from(["eu.i.posthog.com", "http://h:x", "1", "", "~", "."]),
    )
)
def test_no_environment_value_makes_the_client_raise(
    environment: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a relative POSTHOG_CLIENT_DIR lands here
    if "/" in environment.get("POSTHOG_CLIENT_DIR", ""):  # never outside the test's own dir
        environment["POSTHOG_CLIENT_DIR"] = environment["POSTHOG_CLIENT_DIR"].replace("/", "_")
    with mock.patch.dict(os.environ, environment):
        client = Client("phc_app", backend=MemoryBackend())
        try:
            client.capture("started")
            client.flush(5)
        finally:
            client.shutdown(0)
    assert client.options.api_key == "phc_app"
    host = client.options.host
    assert host == "https://us.i.posthog.com" or host == environment["POSTHOG_HOST"].strip()


_CLI = textwrap.dedent(
    """
    import sys
    import posthog_client

    # A CLI's own telemetry: its key, host and dir, whatever its user's environment says.
    client = posthog_client.init(
        "phc_app", host=sys.argv[1], storage_dir=sys.argv[2], read_env=False
    )
    posthog_client.capture("cli_started")
    print(client.shutdown(10).sent)
    """
)


@pytest.mark.slow
def test_a_cli_with_read_env_false_ignores_its_users_posthog_settings(tmp_path: Path) -> None:
    from posthog_client.server import LocalServer

    hostile = {
        "POSTHOG_HOST": "http://127.0.0.1:9",  # the user's own PostHog (here: nobody listens)
        "POSTHOG_API_KEY": "phc_users_own",
        "POSTHOG_CLIENT_DIR": str(tmp_path / "users-dir"),
        "POSTHOG_CLIENT_BACKEND": "memory",
        "POSTHOG_CLIENT_DEBUG": "1",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTHOG_")} | hostile
    with LocalServer("phc_app") as server:
        done = subprocess.run(
            [sys.executable, "-c", _CLI, server.url, str(tmp_path / "app-dir")],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        events = server.engine.events()
    assert done.stdout.strip() == "1", done.stderr
    assert [e.event for e in events] == ["cli_started"]
    assert "DEBUG" not in done.stderr
    assert (tmp_path / "app-dir").is_dir() and not (tmp_path / "users-dir").exists()


def test_a_refused_secret_key_is_never_echoed() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Client("phc_test", secret_key="  \t ")
    assert "secret_key must be None or a non-empty secret key, not ''" in str(raised.value)


def test_the_secret_key_comes_from_the_environment_unless_read_env_is_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POSTHOG_SECRET_KEY", "phs_env")
    assert Options.resolve("phc_test").secret_key == "phs_env"
    assert Options.resolve("phc_test", read_env=False).secret_key is None


def test_a_mixpanel_client_reads_neither_posthog_key_nor_host_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POSTHOG_API_KEY", "phc_env")
    monkeypatch.setenv("POSTHOG_HOST", "https://eu.i.posthog.com")
    options = Options.resolve(mixpanel_token="mp_token", mixpanel_region="in")
    assert (options.api_key, options.host) == ("mp_token", "https://api-in.mixpanel.com")
    explicit = Options.resolve("app-key", mixpanel_token="mp_token", host="http://127.0.0.1:8")
    assert (explicit.api_key, explicit.host) == ("app-key", "http://127.0.0.1:8")
    with pytest.raises(ConfigurationError, match="needs mixpanel_token"):
        Options.resolve(
            "k", mixpanel_service_account=posthog_client.MixpanelServiceAccount("u", "s", "1")
        )
