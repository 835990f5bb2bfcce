"""Reading decoded JSON with the path of each value, for error messages that say where."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Invalid", "JsonObject", "is_int", "kind"]


class Invalid(Exception):
    """A value that is not what the format wants; the message starts with its path."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")


class JsonObject:
    """A JSON object being read, with the path used in error messages."""

    def __init__(self, raw: object, path: str) -> None:
        if not isinstance(raw, dict):
            raise Invalid(path, f"expected an object, got {kind(raw)}")
        self.raw: dict[str, object] = raw
        self.path = path

    def _typed(self, name: str, check: Callable[[object], bool], want: str) -> object:
        value = self.raw.get(name)
        if value is not None and not check(value):
            raise Invalid(f"{self.path}.{name}", f"expected {want}, got {kind(value)}")
        return value

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self._typed(name, lambda v: isinstance(v, str), "a string")
        if required and not value:
            raise Invalid(f"{self.path}.{name}", "a non-empty string is required")
        return value if isinstance(value, str) else None

    def flag(self, name: str, default: bool) -> bool:
        value = self._typed(name, lambda v: isinstance(v, bool), "true or false")
        return value if isinstance(value, bool) else default

    def integer(self, name: str) -> int | None:
        value = self._typed(name, is_int, "an integer")
        return value if isinstance(value, int) else None

    def percentage(self, name: str, *, required: bool = False) -> float | None:
        value = self._typed(name, _is_percentage, "a number from 0 to 100")
        if required and value is None:
            raise Invalid(f"{self.path}.{name}", "a number from 0 to 100 is required")
        return float(value) if isinstance(value, (int, float)) else None

    def items(self, name: str) -> list[object]:
        value = self._typed(name, lambda v: isinstance(v, list), "a list")
        return value if isinstance(value, list) else []

    def child(self, name: str) -> JsonObject:
        return JsonObject(self.raw.get(name) or {}, f"{self.path}.{name}")


def is_int(value: object) -> bool:
    """An integer that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_percentage(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return 0 <= value <= 100


def kind(value: object) -> str:
    """How a value is named in error messages."""
    return "null" if value is None else type(value).__name__
