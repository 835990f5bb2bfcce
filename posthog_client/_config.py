"""Client options: one immutable record, resolved as explicit argument → environment → default."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, TypeAlias, get_args

from ._environment import (
    DEFAULT_HOST,
    env_bool,
    env_host,
    env_opt_out_reason,
    host_problem,
    named_backend,
    normalize_host,
    register_backend,
)
from ._exceptions import ConfigurationError
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
    "DEFAULT_FLAGS_POLL_INTERVAL_S",
    "DEFAULT_FLAGS_REFRESH_INTERVAL_S",
    "DEFAULT_FLAGS_TIMEOUT_S",
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
    "CaptureApi",
    "Compression",
    "Mode",
    "Options",
    "env_opt_out_reason",
    "normalize_host",
    "register_backend",
]

# "server": a backend service whose events come from request contexts (identity-spec §1g).
Mode: TypeAlias = Literal["desktop", "server"]
# PostHog's ingestion API: "v0" POST /batch/, "v1" POST /i/v1/analytics/events (per-event answers)
CaptureApi: TypeAlias = Literal["v0", "v1"]
# Content-Encoding of compressed requests; /batch/ reads gzip only, v1 also zlib "deflate"
Compression: TypeAlias = Literal["gzip", "deflate"]

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
DEFAULT_FLAGS_TIMEOUT_S: Final = 3.0  # F13: posthog-python's and the browser's
DEFAULT_FLAGS_POLL_INTERVAL_S: Final = 30.0  # SR9
DEFAULT_FLAGS_REFRESH_INTERVAL_S: Final = 300.0  # D12: the browser's remote config refresh


# App hosts that users paste by mistake, mapped to PostHog's ingestion hosts.
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
    secret_key: str | None = None
    flags_timeout_s: float = DEFAULT_FLAGS_TIMEOUT_S
    flags_poll_interval_s: float = DEFAULT_FLAGS_POLL_INTERVAL_S
    flags_refresh_interval_s: float = DEFAULT_FLAGS_REFRESH_INTERVAL_S
    capture_api: CaptureApi = "v0"
    compression: Compression = "gzip"
    historical_migration: bool = False
    mixpanel_token: str | None = None
    mixpanel_region: MixpanelRegion = "us"
    mixpanel_id_merge: MixpanelIdMerge = "simplified"
    mixpanel_service_account: MixpanelServiceAccount | None = None


_BOOLEANS: Final = (
    "persist", "strict", "disabled", "debug", "sync_mode", "gzip", "disable_geoip", "read_env",
    "enable_exception_autocapture", "exception_autocapture_exits", "historical_migration",
)  # fmt: skip
# name -> smallest accepted value
_COUNTS: Final = {"flush_at": 1, "max_batch_size": 1, "max_queue_size": 1, "max_disk_bytes": 1,
                  "max_retries": 0}  # fmt: skip
# name -> whether 0 is accepted
_DURATIONS: Final = {"flush_interval_s": False, "timeout_s": False,
                     "session_idle_timeout_s": False, "shutdown_timeout_s": True,
                     "flags_timeout_s": False, "flags_poll_interval_s": False,
                     "flags_refresh_interval_s": True}  # fmt: skip


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
        _check_choice("capture_api", self.capture_api, get_args(CaptureApi))
        _check_choice("compression", self.compression, get_args(Compression))
        if self.compression == "deflate" and self.capture_api != "v1":
            raise ConfigurationError(
                'compression="deflate" needs capture_api="v1": /batch/ reads gzip only'
            )
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
        if not isinstance(self.host, str) or host_problem(self.host) is not None:
            accepted = "a URL starting with http:// or https://, with a valid host and port"
            raise _invalid("host", self.host, accepted)
        backend = self.backend
        if backend is not None and not (
            callable(getattr(backend, "send", None)) and callable(getattr(backend, "close", None))
        ):
            raise _invalid("backend", backend, "an object with send(batch) and close() methods")
        if self.on_error is not None and not callable(self.on_error):
            raise _invalid("on_error", self.on_error, "a function taking a DeliveryProblem")
        key = self.secret_key
        if key is not None and (not isinstance(key, str) or not key.strip()):
            shown = key if not isinstance(key, str) else ""  # never echo a key
            raise _invalid("secret_key", shown, "None or a non-empty secret key")

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
            host = env_host(env.get("POSTHOG_HOST"))
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
        if kwargs.get("secret_key") is None and env.get("POSTHOG_SECRET_KEY"):
            kwargs["secret_key"] = env["POSTHOG_SECRET_KEY"]
        if kwargs.get("debug") is None:
            kwargs["debug"] = bool(env_bool(env, "POSTHOG_CLIENT_DEBUG"))
        if kwargs.get("strict") is None:
            kwargs["strict"] = env_bool(env, "POSTHOG_CLIENT_STRICT")
        if kwargs.get("backend") is None and env.get("POSTHOG_CLIENT_BACKEND"):
            kwargs["backend"] = named_backend(env["POSTHOG_CLIENT_BACKEND"])
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
