"""What an app's telemetry reads from the machine: environment switches, CI, and its own folder.

The folder (``<user data dir of the app>/telemetry`` unless the app says otherwise) holds the
user's choice in ``consent.json`` (the SDK's own format: opted out?, when) and the first-run
notice record in ``notice.json``; the SDK's identity and queue live in a subfolder per project
key. The choice and the notice are the app's, not a project key's: they survive a key change.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from .._config import env_opt_out_reason
from .._exceptions import ConfigurationError
from .._identity.state import StateStore
from .._log import logger, warn_once
from .._storage_files import write_atomically

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "CI_VARIABLES",
    "AppFolder",
    "check_option",
    "ci_variable",
    "default_data_dir",
    "env_name",
    "is_set",
]

# Set by the CI services apps run on (the list of the `ci-info` package, trimmed to the widely
# used ones). Like DO_NOT_TRACK, each counts when set to anything but "", "0" or "false".
CI_VARIABLES: Final = (
    "CI", "CONTINUOUS_INTEGRATION", "GITHUB_ACTIONS", "GITLAB_CI", "BUILDKITE", "CIRCLECI",
    "TRAVIS", "JENKINS_URL", "TEAMCITY_VERSION", "TF_BUILD", "BITBUCKET_BUILD_NUMBER",
    "CODEBUILD_BUILD_ID", "APPVEYOR", "DRONE", "SEMAPHORE", "CIRRUS_CI", "BUDDY",
    "HEROKU_TEST_RUN_ID", "NETLIFY", "NOW_BUILDER", "VERCEL",
)  # fmt: skip


# What each option of ``Telemetry`` accepts, and the patterns of the names among them (compiled
# on first use: an app's start-up time counts).
_ACCEPTED: Final = {
    "app": ("a name like 'mytool' (letters, digits, '.', '_', '-')", r"[A-Za-z0-9][A-Za-z0-9._-]*"),
    "disable_variable": ("an environment variable name", r"[A-Za-z_][A-Za-z0-9_]*"),
    "debug_variable": ("an environment variable name", r"[A-Za-z_][A-Za-z0-9_]*"),
    "notice_version": ("a non-empty string, such as the notice's date", r".*\S.*"),
    "ci": ("'off' or 'shared'", None),
    "show_notice": ("a function(text) or None", None),
    "enabled_by_default": ("True or False", None),
}


def check_option(name: str, value: object, ok: bool | None = None) -> None:
    """Raise ``ConfigurationError`` naming ``name`` unless ``ok`` (or, for a name, unless
    ``value`` matches its pattern)."""
    accepted, pattern = _ACCEPTED[name]
    if ok is None:
        ok = (
            isinstance(value, str)
            and pattern is not None
            and re.fullmatch(pattern, value) is not None
        )
    if not ok:
        raise ConfigurationError(f"{name} must be {accepted}, not {value!r}")


def env_name(app: str, suffix: str) -> str:
    """``my-tool`` → ``MY_TOOL_<suffix>``: an app's variable name, as shells accept it."""
    stem = re.sub(r"[^A-Za-z0-9]+", "_", app).strip("_").upper()
    return f"{'_' if stem[:1].isdigit() else ''}{stem}_{suffix}"


def is_set(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the switch ``name`` is on ("1", "true", anything but "", "0", "false"…)."""
    return env_opt_out_reason(environ, (name,)) is not None


def ci_variable(environ: Mapping[str, str] | None = None) -> str | None:
    """The first CI variable that is set, or None outside CI."""
    return env_opt_out_reason(environ, CI_VARIABLES)


def default_data_dir(app: str) -> Path:
    from pathlib import Path  # deferred, with platformdirs: only a run that sends needs them

    import platformdirs

    return Path(platformdirs.user_data_dir(app, appauthor=False)) / "telemetry"


class AppFolder:
    """The app's telemetry folder; reading it never creates it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._consent = StateStore(directory)  # only its consent file is used here

    def choice(self) -> tuple[bool, str | None] | None:
        """The user's choice (opted out?, when as ISO 8601 UTC), or None if never made."""
        return self._consent.consent()

    def set_choice(self, opted_out: bool) -> None:
        self._consent.set_opted_out(opted_out)

    def notice_version(self) -> str | None:
        """The version of the notice last shown to the user, or None."""
        try:
            version = json.loads((self.directory / "notice.json").read_bytes()).get("version")
        except (OSError, ValueError, AttributeError):
            return None
        return version if isinstance(version, str) else None

    def record_notice(self, version: str) -> bool:
        """Remember that the notice ``version`` was shown; False if it could not be written."""
        record = {
            "version": version,
            "shown_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_atomically(self.directory / "notice.json", json.dumps(record).encode())
        except OSError as exc:
            warn_once(
                "notice-write", "cannot record the telemetry notice in %s: %s", self.directory, exc
            )
            return False
        return True

    def forget_data(self) -> None:
        """Delete the SDK's identity, session and unsent events (every project key's folder);
        the user's choice and the notice record stay."""
        import shutil

        try:
            entries = list(os.scandir(self.directory))
        except OSError:
            return
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
                if os.path.exists(entry.path):
                    logger.warning("cannot delete %s: remove it by hand", entry.path)
