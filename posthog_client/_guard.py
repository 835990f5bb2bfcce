"""Keeps SDK failures out of the host application."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, Protocol, TypeVar

from ._exceptions import PostHogError
from ._log import logger

__all__ = ["never_raises"]

P = ParamSpec("P")
R = TypeVar("R")


class _HasStrict(Protocol):
    @property
    def strict(self) -> bool: ...


def never_raises(default: Any) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Return ``default`` instead of raising; in strict mode ``PostHogError`` still propagates."""

    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return method(*args, **kwargs)
            except PostHogError:
                owner: _HasStrict = args[0]  # type: ignore[assignment]
                if owner.strict:
                    raise
                logger.exception("posthog_client: %s failed", method.__name__)
            except Exception:
                logger.exception("posthog_client: internal error in %s", method.__name__)
            return default  # type: ignore[no-any-return]

        return wrapper

    return decorate
