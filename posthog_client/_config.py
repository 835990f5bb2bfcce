"""Client options: one immutable record, resolved as explicit argument → environment → default."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, TypeAlias, get_args

from ._exceptions import ConfigurationError
from ._log import logger
from ._types import (
    BeforeSendHook,
    MixpanelIdMerge,
    MixpanelRegion,
    MixpanelServiceAccount,
    PersonProfiles,
)

if TYPE_CHECKING:
    from pathlib import Path

    from ._delivery.backend import Backend
    from ._delivery.report import ErrorCallback

__all__ = [
    "DEFAULT_FLUSH_AT",
    "DEFAULT_FLUSH_INTERVAL_S",
    "DEFAULT_HOST",
    "DEFAULT_MAX_BATCH_SIZE",
    "DEFAULT_MAX_DISK_BYTES",
    "DEFAULT_MAX_QUEUE_SIZE",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_SESSION_IDLE_TIMEOUT_S",
    "DEFAULT_SHUTDOWN_TIMEOUT_S",
    "DEFAULT_TIMEOUT_S",
    "SESSION_MAX_LENGTH_S",
    "Mode",
    "Options",
    "env_opt_out_reason",
    "normalize_host",
    "register_backend",
]

# "server": a backend service whose events come from request contexts (identity-spec §1g).
Mode: TypeAlias = Literal["desktop", "server"]

DEFAULT_HOST: Final = "https://us.i.posthog.com"
DEFAULT_FLUSH_AT: Final = 20
DEFAULT_FLUSH_INTERVAL_S: Final = 5.0
DEFAULT_MAX_BATCH_SIZE: Final = 500
DEFAULT_MAX_QUEUE_SIZE: Final = 10_000
DEFAULT_MAX_DISK_BYTES: Final = 50 * 1024 * 1024
DEFAULT_MAX_RETRIES: Final = 3
DEFAULT_TIMEOUT_S: Final = 10.0
DEFAULT_SHUTDOWN_TIMEOUT_S: Final = 1.0
DEFAULT_SESSION_IDLE_TIMEOUT_S: Final = 30 * 60.0
SESSION_MAX_LENGTH_S: Final = 24 * 3600.0

# App hosts that users paste by mistake, mapped to PostHog's ingestion hosts.
_INGESTION_HOSTS: Final = {
    "https://app.posthog.com": "https://us.i.posthog.com",
    "https://us.posthog.com": "https://us.i.posthog.com",
    "https://eu.posthog.com": "https://eu.i.posthog.com",
}
_FALSY: Final = frozenset({"", "0", "false", "no", "off"})


def env_opt_out_reason(
    environ: Mapping[str, str] | None = None, names: tuple[str, ...] | None = None
) -> str | None:
    """The first of the environment variables ``names`` that opts this process out (A19), or
    None.

    By default ``DO_NOT_TRACK`` (consoledonottrack.com) and ``POSTHOG_CLIENT_DISABLED``; an app's
    telemetry passes its own names. Each counts when set to anything but "", "0" or "false".
    """
    env = os.environ if environ is None else environ
    for name in names or ("DO_NOT_TRACK", "POSTHOG_CLIENT_DISABLED"):
        if env.get(name, "").strip().lower() not in _FALSY:
            return name
    return None


def _env_bool(env: Mapping[str, str], name: str) -> bool | None:
    value = env.get(name)
    return None if value is None else value.strip().lower() not in _FALSY


def _host_problem(url: str) -> str | None:
    """Why ``url`` cannot be where events are sent, or None. Checked when the client is built:
    a URL the HTTP stack cannot use would otherwise fail on every send, events waiting forever."""
    scheme, separator, rest = url.strip().partition("://")
    if not separator or scheme not in ("http", "https"):
        return "it must start with http:// or https://"
    netloc = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
    if netloc.startswith("["):  # an IPv6 literal, e.g. [::1]:8010
        host, _, port = netloc[1:].partition("]")
        if port and not port.startswith(":"):
            return "it is not a valid URL"
        port = port[1:]
    else:
        host, _, port = netloc.partition(":")
    if not host or any(c.isspace() or ord(c) < 32 for c in netloc):
        return "it has no valid host name"
    if port and not (port.isascii() and port.isdigit() and int(port) <= 65535):
        return "its port is not a number from 0 to 65535"
    return None


def _env_host(value: str | None) -> str:
    """``POSTHOG_HOST``, or the default host when it is unset or unusable (with a WARNING: a
    stray variable must not crash the app at start-up)."""
    if not value:
        return DEFAULT_HOST
    problem = _host_problem(value)
    if problem is not None:
        logger.warning("POSTHOG_HOST=%r ignored: %s; using %s", value[:100], problem, DEFAULT_HOST)
        return DEFAULT_HOST
    return value


class _Fields(NamedTuple):
    # The resolved values; ``Client.__init__`` declares the same names as keyword-only
    # parameters (a test keeps the two in step), where ``None`` means "environment, else default".
    api_key: str
    host: str = DEFAULT_HOST
    mode: Mode = "desktop"
    backend: Backend | None = None
    persist: bool = True
    storage_dir: Path | None = None
    strict: bool = False
    person_profiles: PersonProfiles = "identified_only"
    disabled: bool = False
    debug: bool = False
    sync_mode: bool = False
    gzip: bool = True
    disable_geoip: bool = False
    flush_at: int = DEFAULT_FLUSH_AT
    flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE
    max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE
    max_disk_bytes: int = DEFAULT_MAX_DISK_BYTES
    max_retries: int = DEFAULT_MAX_RETRIES
    timeout_s: float = DEFAULT_TIMEOUT_S
    shutdown_timeout_s: float = DEFAULT_SHUTDOWN_TIMEOUT_S
    session_idle_timeout_s: float = DEFAULT_SESSION_IDLE_TIMEOUT_S
    super_properties: Mapping[str, object] = MappingProxyType({})
    read_env: bool = True
    enable_exception_autocapture: bool = False
    exception_autocapture_exits: bool = False
    before_send: BeforeSendHook | None = None
    on_error: ErrorCallback | None = None
    mixpanel_token: str | None = None
    mixpanel_region: MixpanelRegion = "us"
    mixpanel_id_merge: MixpanelIdMerge = "simplified"
    mixpanel_service_account: MixpanelServiceAccount | None = None


_BOOLEANS: Final = (
    "persist", "strict", "disabled", "debug", "sync_mode", "gzip", "disable_geoip", "read_env",
    "enable_exception_autocapture", "exception_autocapture_exits",
)  # fmt: skip
# name -> smallest accepted value
_COUNTS: Final = {"flush_at": 1, "max_batch_size": 1, "max_queue_size": 1, "max_disk_bytes": 1,
                  "max_retries": 0}  # fmt: skip
# name -> whether 0 is accepted
_DURATIONS: Final = {"flush_interval_s": False, "timeout_s": False,
                     "session_idle_timeout_s": False, "shutdown_timeout_s": True}  # fmt: skip


class Options(_Fields):
    """Every setting of a ``Client``, validated; see ``Client`` for what each one does.

    A named tuple rather than a dataclass: ``dataclasses`` would add ~6 ms to the import time
    of every app that uses the SDK.
    """

    __slots__ = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> Options:
        options = super().__new__(cls, *args, **kwargs)
        options._validate()
        return options

    def _validate(self) -> None:
        self._validate_mixpanel()  # first: an empty token must not read as a missing api_key
        if not isinstance(self.api_key, str) or not self.api_key.strip():
            raise ConfigurationError(
                "api_key is required: pass it to init()/Client() or set POSTHOG_API_KEY"
            )
        _check_choice("mode", self.mode, get_args(Mode))
        _check_choice("person_profiles", self.person_profiles, get_args(PersonProfiles))
        for name in _BOOLEANS:
            if not isinstance(getattr(self, name), bool):
                raise _invalid(name, getattr(self, name), "True or False")
        for name, minimum in _COUNTS.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise _invalid(name, value, f"an int >= {minimum}")
        for name, zero_ok in _DURATIONS.items():
            value = getattr(self, name)
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or not math.isfinite(value)
                or value < 0
                or (value == 0 and not zero_ok)
            ):
                raise _invalid(name, value, f"a number of seconds {'>=' if zero_ok else '>'} 0")
        if self.before_send is not None and not callable(self.before_send):
            raise _invalid("before_send", self.before_send, "a function(event) -> event or None")
        if not isinstance(self.super_properties, Mapping):
            raise _invalid("super_properties", self.super_properties, "a dict of properties")
        if self.flush_at > self.max_queue_size:
            raise ConfigurationError(
                f"flush_at={self.flush_at} must be <= max_queue_size={self.max_queue_size}"
            )
        if not isinstance(self.host, str) or _host_problem(self.host) is not None:
            accepted = "a URL starting with http:// or https://, with a valid host and port"
            raise _invalid("host", self.host, accepted)
        backend = self.backend
        if backend is not None and not (
            callable(getattr(backend, "send", None)) and callable(getattr(backend, "close", None))
        ):
            raise _invalid("backend", backend, "an object with send(batch) and close() methods")
        if self.on_error is not None and not callable(self.on_error):
            raise _invalid("on_error", self.on_error, "a function taking a DeliveryProblem")

    def _validate_mixpanel(self) -> None:
        token = self.mixpanel_token
        if token is not None and (not isinstance(token, str) or not token.strip()):
            raise _invalid("mixpanel_token", token, "a Mixpanel project token (a non-empty str)")
        _check_choice("mixpanel_region", self.mixpanel_region, get_args(MixpanelRegion))
        _check_choice("mixpanel_id_merge", self.mixpanel_id_merge, get_args(MixpanelIdMerge))
        account = self.mixpanel_service_account
        if account is not None and not (
            isinstance(account, tuple)
            and len(account) == 3
            and all(isinstance(part, str) and part for part in account)
        ):
            accepted = "MixpanelServiceAccount(username, secret, project_id)"
            raise _invalid("mixpanel_service_account", "<credentials>", accepted)
        if account is not None and token is None:
            raise ConfigurationError("mixpanel_service_account needs mixpanel_token")

    @classmethod
    def resolve(cls, api_key: str | None = None, **kwargs: object) -> Options:
        """Build options from arguments, falling back to ``POSTHOG_*`` environment variables.

        ``None`` for an argument means "not given": its environment variable, else its default.
        ``read_env=False`` reads none of them (an app embedding the SDK for its own telemetry
        must not be steered by its user's PostHog settings). An unusable environment value is
        ignored with a WARNING; an unusable argument raises ``ConfigurationError``.
        """
        read_env = kwargs.get("read_env", True)
        env: Mapping[str, str] = os.environ if read_env is not False else {}
        mixpanel = kwargs.get("mixpanel_token")
        if api_key is None and isinstance(mixpanel, str):
            api_key = mixpanel  # Mixpanel's token names the storage folder: no POSTHOG_API_KEY
        key = api_key if api_key is not None else env.get("POSTHOG_API_KEY", "")
        host = kwargs.pop("host", None)
        if host is None and mixpanel is not None:
            host = _mixpanel_host(kwargs.get("mixpanel_region"))
        if host is None:
            host = _env_host(env.get("POSTHOG_HOST"))
        elif not isinstance(host, str):
            raise _invalid("host", host, "a URL starting with http:// or https://")
        if kwargs.get("storage_dir") is None and env.get("POSTHOG_CLIENT_DIR"):
            kwargs["storage_dir"] = env["POSTHOG_CLIENT_DIR"]
        storage_dir = kwargs.get("storage_dir")
        if storage_dir is not None:
            if not isinstance(storage_dir, str | os.PathLike):
                raise _invalid("storage_dir", storage_dir, "a path (str or os.PathLike)")
            from pathlib import Path  # deferred: pathlib costs several ms of import time

            kwargs["storage_dir"] = Path(storage_dir).expanduser()
        if kwargs.get("mode") == "server":  # defaults of a server; explicit arguments still win
            for name, value in (("persist", False), ("disable_geoip", True)):
                if kwargs.get(name) is None:
                    kwargs[name] = value
        if kwargs.get("debug") is None:
            kwargs["debug"] = bool(_env_bool(env, "POSTHOG_CLIENT_DEBUG"))
        if kwargs.get("strict") is None:
            kwargs["strict"] = _env_bool(env, "POSTHOG_CLIENT_STRICT")
        if kwargs.get("backend") is None and env.get("POSTHOG_CLIENT_BACKEND"):
            kwargs["backend"] = _named_backend(env["POSTHOG_CLIENT_BACKEND"])
            if kwargs["backend"] is None:  # a misspelt test switch must not send real data
                kwargs["disabled"] = True
            # A test run: bad input fails the test, and without a storage dir nothing hits disk.
            if kwargs.get("strict") is None:
                kwargs["strict"] = True
            if kwargs.get("persist") is None and kwargs.get("storage_dir") is None:
                kwargs["persist"] = False
        unknown = set(kwargs) - set(cls._fields)
        if unknown:
            raise ConfigurationError(f"unknown option(s): {', '.join(sorted(unknown))}")
        options = {k: v for k, v in kwargs.items() if v is not None}
        return cls(api_key=key, host=normalize_host(host), **options)

    @property
    def project_dir(self) -> Path:
        """This project's folder: one per api key, named by a hash so the key never hits a path."""
        import hashlib  # deferred, like every import only needed once the client runs
        from pathlib import Path

        root = self.storage_dir
        if root is None:
            import platformdirs  # costs ~15 ms of import time

            root = Path(platformdirs.user_data_dir("posthog_client", appauthor=False))
        digest = hashlib.sha256(self.api_key.encode()).hexdigest()[:16]
        return root / digest


def _mixpanel_host(region: object) -> str:
    """The ingestion host of a Mixpanel project's region (D16), never ``POSTHOG_HOST``."""
    from ._mixpanel import HOSTS  # deferred: only a Mixpanel client needs the Mixpanel wire

    return HOSTS.get(region, HOSTS["us"]) if isinstance(region, str) else HOSTS["us"]


def _invalid(name: str, value: object, accepted: str) -> ConfigurationError:
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return ConfigurationError(f"{name} must be {accepted}, not {shown}")


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise _invalid(name, value, "one of " + ", ".join(repr(c) for c in choices))


# Backends chosen by name with POSTHOG_CLIENT_BACKEND. A module providing one registers its
# factory when imported; config names the module instead of importing it, so the dependency
# points from the provider (the test double) to config, never back.
_backend_factories: dict[str, Callable[[], Backend]] = {}
_BACKEND_PROVIDERS: Final = {"memory": "posthog_client.testing"}


def register_backend(name: str, factory: Callable[[], Backend]) -> None:
    """Make ``POSTHOG_CLIENT_BACKEND=<name>`` use the backend ``factory`` returns."""
    _backend_factories[name] = factory


def _named_backend(name: str) -> Backend | None:
    """The backend ``POSTHOG_CLIENT_BACKEND`` names, or None (with a WARNING) if none has that
    name."""
    key = name.strip().lower()
    if key not in _backend_factories and key in _BACKEND_PROVIDERS:
        import importlib

        importlib.import_module(_BACKEND_PROVIDERS[key])
    factory = _backend_factories.get(key)
    if factory is None:
        names = sorted({*_BACKEND_PROVIDERS, *_backend_factories})
        logger.warning(
            "POSTHOG_CLIENT_BACKEND=%r is not a backend (expected %s or unset): nothing is sent",
            name[:100],
            " or ".join(map(repr, names)),
        )
        return None
    return factory()


def normalize_host(host: str) -> str:
    """Strip trailing slashes and map PostHog app hosts to ingestion hosts."""
    host = host.strip().rstrip("/")
    return _INGESTION_HOSTS.get(host, host)
