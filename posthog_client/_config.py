"""Client options: one immutable record, resolved as explicit argument → environment → default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, TypeAlias, get_args

from ._exceptions import ConfigurationError
from ._types import PersonProfiles

if TYPE_CHECKING:
    from pathlib import Path

    from ._backend import Backend

__all__ = ["DEFAULT_HOST", "Mode", "Options", "env_opt_out_reason"]

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


def env_opt_out_reason(environ: Mapping[str, str] | None = None) -> str | None:
    """The environment variable that opts this process out (A19), or None.

    ``DO_NOT_TRACK`` (consoledonottrack.com) and ``POSTHOG_CLIENT_DISABLED`` count when set to
    anything but "", "0" or "false".
    """
    env = os.environ if environ is None else environ
    for name in ("DO_NOT_TRACK", "POSTHOG_CLIENT_DISABLED"):
        if env.get(name, "").strip().lower() not in _FALSY:
            return name
    return None


def _env_bool(name: str) -> bool | None:
    value = os.environ.get(name)
    return None if value is None else value.strip().lower() not in _FALSY


class _Fields(NamedTuple):
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
        if not isinstance(self.api_key, str) or not self.api_key.strip():
            raise ConfigurationError(
                "api_key is required: pass it to init()/Client() or set POSTHOG_API_KEY"
            )
        if self.mode not in get_args(Mode):
            raise ConfigurationError(f"mode must be one of {get_args(Mode)}, not {self.mode!r}")
        if self.person_profiles not in get_args(PersonProfiles):
            raise ConfigurationError(
                f"person_profiles must be one of {get_args(PersonProfiles)}, "
                f"not {self.person_profiles!r}"
            )
        for name in ("flush_at", "max_batch_size", "max_queue_size", "max_disk_bytes"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"{name} must be >= 1")
        if self.max_retries < 0:
            raise ConfigurationError("max_retries must be >= 0")
        for name in ("flush_interval_s", "timeout_s", "session_idle_timeout_s"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"{name} must be > 0")
        if self.shutdown_timeout_s < 0:
            raise ConfigurationError("shutdown_timeout_s must be >= 0")
        if self.flush_at > self.max_queue_size:
            raise ConfigurationError("flush_at must be <= max_queue_size")
        if not self.host.startswith(("http://", "https://")):
            raise ConfigurationError(f"host must start with http:// or https://, not {self.host!r}")

    @classmethod
    def resolve(cls, api_key: str | None = None, **kwargs: object) -> Options:
        """Build options from arguments, falling back to ``POSTHOG_*`` environment variables."""
        key = api_key if api_key is not None else os.environ.get("POSTHOG_API_KEY", "")
        host = kwargs.pop("host", None) or os.environ.get("POSTHOG_HOST") or DEFAULT_HOST
        if kwargs.get("storage_dir") is None and os.environ.get("POSTHOG_CLIENT_DIR"):
            kwargs["storage_dir"] = os.environ["POSTHOG_CLIENT_DIR"]
        if kwargs.get("storage_dir") is not None:
            from pathlib import Path  # deferred: pathlib costs several ms of import time

            kwargs["storage_dir"] = Path(str(kwargs["storage_dir"])).expanduser()
        if kwargs.get("mode") == "server":  # defaults of a server; explicit arguments still win
            for name, value in (("persist", False), ("disable_geoip", True)):
                if kwargs.get(name) is None:
                    kwargs[name] = value
        if kwargs.get("debug") is None:
            kwargs["debug"] = bool(_env_bool("POSTHOG_CLIENT_DEBUG"))
        if kwargs.get("strict") is None:
            kwargs["strict"] = _env_bool("POSTHOG_CLIENT_STRICT")
        if kwargs.get("backend") is None and os.environ.get("POSTHOG_CLIENT_BACKEND"):
            kwargs["backend"] = _env_backend(os.environ["POSTHOG_CLIENT_BACKEND"])
            # A test run: bad input fails the test, and without a storage dir nothing hits disk.
            if kwargs.get("strict") is None:
                kwargs["strict"] = True
            if kwargs.get("persist") is None and kwargs.get("storage_dir") is None:
                kwargs["persist"] = False
        unknown = set(kwargs) - set(cls._fields)
        if unknown:
            raise ConfigurationError(f"unknown option(s): {', '.join(sorted(unknown))}")
        options = {k: v for k, v in kwargs.items() if v is not None}
        return cls(api_key=key, host=normalize_host(str(host)), **options)

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


def _env_backend(name: str) -> Backend:
    """The backend ``POSTHOG_CLIENT_BACKEND`` names: only ``memory`` (the test recorder)."""
    if name.strip().lower() != "memory":
        raise ConfigurationError(f"POSTHOG_CLIENT_BACKEND must be 'memory' or unset, not {name!r}")
    from .testing import process_recorder  # deferred: only test runs load the recorder

    return process_recorder()


def normalize_host(host: str) -> str:
    """Strip trailing slashes and map PostHog app hosts to ingestion hosts."""
    host = host.strip().rstrip("/")
    return _INGESTION_HOSTS.get(host, host)
