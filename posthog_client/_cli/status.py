"""``posthog-client status``: what the SDK keeps on this machine, read without changing it.

For a storage dir (``--dir``, else ``$POSTHOG_CLIENT_DIR``, else the user data dir) or an app
using ``posthog_client.telemetry`` (``--app NAME``): for each project folder, the identity, the
session, the consent and its reason, the queued events and the last delivery failure.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import TYPE_CHECKING, Any

from .._config import (
    DEFAULT_SESSION_IDLE_TIMEOUT_S,
    SESSION_MAX_LENGTH_S,
    Options,
    env_opt_out_reason,
)
from .._delivery.inspect import last_error, queued_events
from .._identity.consent import ConsentStatus, consent_status
from .._identity.state import StateStore
from ..telemetry._settings import AppFolder, ci_variable, default_data_dir, env_name

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["add_status_command"]


def add_status_command(commands: Any) -> None:
    status = commands.add_parser(
        "status",
        help="show the identity, session, consent and queue kept on this machine",
        description="Read, without changing anything, what the SDK keeps in a storage dir or "
        "in an app's telemetry folder: per project, the identity, the session, whether events "
        "are sent and why not, the queued events and the last delivery error.",
    )
    where = status.add_mutually_exclusive_group()
    where.add_argument(
        "--dir", metavar="PATH", help="a storage dir (default: $POSTHOG_CLIENT_DIR, else the "
        "user data dir)",
    )  # fmt: skip
    where.add_argument(
        "--app", metavar="NAME", help="an app that uses posthog_client.telemetry, by its name"
    )
    status.add_argument("--api-key", help="only the folder of this project key")
    status.add_argument("--json", action="store_true", help="print JSON, for scripts")
    status.set_defaults(run=_status)


def _status(args: argparse.Namespace) -> int:
    report = collect(args.dir, args.app, args.api_key)
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


def collect(storage_dir: str | None, app: str | None, api_key: str | None) -> dict[str, Any]:
    """Everything ``status`` shows, as JSON-ready data."""
    # Resolved as the SDK resolves it; without a key any key gives the root the folders are in.
    options = Options.resolve(api_key or "phc_any", storage_dir=storage_dir)
    report: dict[str, Any] = {}
    if app is None:
        root = options.project_dir.parent
    else:  # the app decides consent for all its project folders, in its own files
        root = default_data_dir(app)
        folder = AppFolder(root)
        choice = folder.choice()
        env = env_opt_out_reason(None, ("DO_NOT_TRACK", env_name(app, "TELEMETRY_DISABLED")))
        consent = consent_status(env, False, choice, ci_variable=ci_variable())
        report["app"] = {
            "name": app,
            "consent": _consent_json(consent, no_choice=choice is None),
            "notice_version_shown": folder.notice_version(),
        }
    report["storage"] = str(root)
    if api_key is not None:
        folders = [options._replace(storage_dir=root).project_dir]
    else:
        folders = sorted(
            p for p in _subdirs(root) if (p / "state.json").exists() or (p / "queue").is_dir()
        )
    env = env_opt_out_reason() if app is None else None
    report["projects"] = [_project(p, app is None, env) for p in folders if p.is_dir()]
    return report


def _subdirs(root: Path) -> list[Path]:
    try:
        return [root / e.name for e in os.scandir(root) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def _project(folder: Path, own_consent: bool, env: str | None) -> dict[str, Any]:
    store = StateStore(folder)
    state = store.peek()
    now_ms = int(time.time() * 1000)
    project: dict[str, Any] = {"folder": str(folder)}
    if state is not None:
        last_ms = max(state.session_last_ms, store.activity_ms())
        live = (
            state.session_id is not None
            and now_ms - last_ms <= DEFAULT_SESSION_IDLE_TIMEOUT_S * 1000
            and now_ms - state.session_start_ms <= SESSION_MAX_LENGTH_S * 1000
        )
        project.update(
            distinct_id=state.distinct_id,
            anonymous_id=state.anon_id,
            device_id=state.device_id,
            identified=state.identified,
            session={"id": state.session_id, "last_active_s_ago": (now_ms - last_ms) // 1000,
                     "active": live} if state.session_id else None,
        )  # fmt: skip
    if own_consent:
        project["consent"] = consent_status(env, False, store.consent())._asdict()
    project["queued_events"] = queued_events(folder / "queue")
    error = last_error(folder)
    project["last_delivery_error"] = {"at": error[0], "error": error[1]} if error else None
    return project


def _consent_json(consent: ConsentStatus, *, no_choice: bool) -> dict[str, Any]:
    data = consent._asdict()
    if consent.sending and no_choice:  # the app's own default decides, which we cannot know
        data["reason"] = "no choice recorded: the app's default applies"
    return data


def render(report: dict[str, Any]) -> str:
    lines = [f"storage: {report['storage']}"]
    app = report.get("app")
    if app is not None:
        notice = app["notice_version_shown"]
        lines += [
            f"app {app['name']}: {_consent_text(app['consent'])}",
            f"  notice: {'version ' + notice + ' shown' if notice else 'not shown yet'}",
        ]
    if not report["projects"]:
        lines.append("no project data here yet")
    for project in report["projects"]:
        lines.append(f"project folder {project['folder']}")
        if "distinct_id" in project:
            kind = "identified" if project["identified"] else "anonymous"
            lines.append(f"  distinct id:   {project['distinct_id']} ({kind})")
            if project["identified"]:
                lines.append(f"  anonymous id:  {project['anonymous_id']}")
            lines.append(f"  device id:     {project['device_id']}")
            lines.append(f"  session:       {_session_text(project['session'])}")
        else:
            lines.append("  identity:      none yet")
        if "consent" in project:
            lines.append(f"  consent:       {_consent_text(project['consent'])}")
        lines.append(f"  queued events: {project['queued_events']}")
        error = project["last_delivery_error"]
        shown = f"{error['at']}: {error['error']}" if error else "none"
        lines.append(f"  last delivery error: {shown}")
    return "\n".join(lines)


def _consent_text(consent: dict[str, Any]) -> str:
    return ("sending" if consent["sending"] else "not sending") + f" ({consent['reason']})"


def _session_text(session: dict[str, Any] | None) -> str:
    if session is None:
        return "none yet"
    ago = session["last_active_s_ago"]
    when = f"{ago // 60} min ago" if ago >= 60 else f"{ago} s ago"
    state = "last active" if session["active"] else "ended; last active"
    return f"{session['id']} ({state} {when})"
