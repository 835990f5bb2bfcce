"""Semantic versions as PostHog's flag service compares them (E12).

Both sides are canonicalised first (a leading ``v`` and surrounding spaces dropped, missing
parts padded with ``0``, leading zeros stripped: ``v3.08`` → ``3.8.0``), then compared with the
rules of the Rust ``semver`` crate the service uses: pre-releases sort before their release,
build metadata takes part in equality, and a requirement (``~``, ``^``, wildcards) admits a
pre-release only when one of its comparators names the same ``major.minor.patch`` with a
pre-release. Anything that does not parse never matches.
"""

from __future__ import annotations

import functools
import re
from typing import Final, NamedTuple

from ._coerce import text

__all__ = ["Version", "compare", "in_range", "parse_version"]

_U64_MAX: Final = 2**64 - 1
# Rust's ``str::trim`` strips Unicode White_Space, a narrower set than ``str.strip()``.
_WHITESPACE: Final = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
_WHITESPACE_ALL: Final = _WHITESPACE + "\u2028\u2029\u202f\u205f\u3000"
_IDENTIFIERS: Final = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_VERSION: Final = re.compile(
    rf"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-({_IDENTIFIERS}))?(?:\+({_IDENTIFIERS}))?"
)
_PART: Final = r"(0|[1-9][0-9]*|[*xX])"
_COMPARATOR: Final = re.compile(
    rf"\s*(=|>=|<=|>|<|~|\^)?\s*{_PART}(?:\.{_PART})?(?:\.{_PART})?(?:-({_IDENTIFIERS}))?\s*",
    re.ASCII,
)
_NO_PRE: Final = (1,)  # a release sorts after every pre-release of the same version


class Version(NamedTuple):
    major: int
    minor: int
    patch: int
    pre: tuple[object, ...]
    build: tuple[object, ...]


class _Comparator(NamedTuple):
    op: str
    major: int
    minor: int | None
    patch: int | None
    pre: tuple[object, ...]


def _pre_key(identifiers: str | None) -> tuple[object, ...]:
    if not identifiers:
        return _NO_PRE
    parts = identifiers.split(".")
    if any(p.isdigit() and len(p) > 1 and p[0] == "0" for p in parts):
        raise ValueError("leading zero in a numeric pre-release identifier")
    return (0, *((0, int(p)) if p.isdigit() else (1, p) for p in parts))


def _build_key(identifiers: str | None) -> tuple[object, ...]:
    # Numeric identifiers compare by value, then by length (0 < 00 < 1), before alphanumerics.
    parts = identifiers.split(".") if identifiers else []
    return tuple((0, int(p), len(p)) if p.isdigit() else (1, p) for p in parts)


def _strip_zeros(part: str) -> str:
    if part and part.isascii() and part.isdigit():
        return part.lstrip("0") or "0"
    return part


def _normalize(value: object) -> str:
    raw = text(value)
    return (raw[1:] if raw.startswith("v") else raw).strip(_WHITESPACE_ALL)


def _canonical(version: str) -> str:
    cut = min((i for i in (version.find("-"), version.find("+")) if i >= 0), default=len(version))
    parts = [_strip_zeros(p) for p in version[:cut].split(".")]
    parts += ["0"] * (3 - len(parts))
    return ".".join(parts) + version[cut:]


def parse_version(value: object) -> Version | None:
    """``value`` as a version, or None when it is not one."""
    return _parse_canonical(_canonical(_normalize(value)))


@functools.lru_cache(maxsize=1024)
def _parse_canonical(canonical: str) -> Version | None:
    match = _VERSION.fullmatch(canonical)
    if match is None or not canonical.isascii():
        return None
    major, minor, patch = (int(match.group(i)) for i in (1, 2, 3))
    if max(major, minor, patch) > _U64_MAX:
        return None
    try:
        pre = _pre_key(match.group(4))
    except ValueError:
        return None
    return Version(major, minor, patch, pre, _build_key(match.group(5)))


def compare(operator: str, actual: object, expected: object) -> bool:
    """``semver_eq``/``neq``/``gt``/``gte``/``lt``/``lte`` of ``actual`` against ``expected``."""
    left, right = parse_version(actual), parse_version(expected)
    if left is None or right is None:
        return False
    return {
        "semver_eq": left == right,
        "semver_neq": left != right,
        "semver_gt": left > right,
        "semver_gte": left >= right,
        "semver_lt": left < right,
        "semver_lte": left <= right,
    }[operator]


def in_range(operator: str, actual: object, expected: object) -> bool:
    """``semver_tilde``/``caret``/``wildcard``: whether ``actual`` satisfies ``expected``."""
    version = parse_version(actual)
    if version is None:
        return False
    normalized = _normalize(expected)
    if operator == "semver_wildcard":
        requirement = ".".join(map(_strip_zeros, normalized.split("."))).replace("*", "x")
    else:
        requirement = ("~" if operator == "semver_tilde" else "^") + _canonical(normalized)
    comparators = _requirement(requirement)
    if comparators is None or not all(_matches(c, version) for c in comparators):
        return False
    if version.pre == _NO_PRE:
        return True
    return any((c.major, c.minor, c.patch) == version[:3] and c.pre != _NO_PRE for c in comparators)


@functools.lru_cache(maxsize=512)
def _requirement(requirement: str) -> tuple[_Comparator, ...] | None:
    """A ``semver::VersionReq``: comparators joined by commas; ``()`` is ``*``; None if invalid."""
    if not requirement.isascii():
        return None
    pieces = requirement.split(",")
    if len(pieces) == 1 and requirement.strip() in ("*", "x", "X"):
        return ()
    comparators = []
    for piece in pieces:
        match = _COMPARATOR.fullmatch(piece)
        if match is None:
            return None
        op, *parts, pre = match.groups()
        wild = [p is None or p in "*xX" for p in parts]
        if wild[0] or (wild[1] and not wild[2]) or (pre and any(wild)):
            return None  # a wildcard major, a number after a wildcard, or a partial pre-release
        numbers = [None if w else int(p) for p, w in zip(parts, wild, strict=True)]
        if any(n is not None and n > _U64_MAX for n in numbers):
            return None
        if op is None:
            op = "=" if any(p is not None and p in "*xX" for p in parts) else "^"
        major, minor, patch = numbers
        assert major is not None
        try:
            pre_key = _pre_key(pre)
        except ValueError:  # a leading zero in a numeric pre-release: no valid requirement
            return None
        comparators.append(_Comparator(op, major, minor, patch, pre_key))
    return tuple(comparators)


def _matches(c: _Comparator, v: Version) -> bool:
    if c.op in ("=", ">=", "<="):
        exact = (
            v.major == c.major
            and c.minor in (None, v.minor)
            and c.patch in (None, v.patch)
            and v.pre == c.pre
        )
        if exact or c.op == "=":
            return exact
    if c.op in (">", ">="):
        return _beyond(c, v, greater=True)
    if c.op in ("<", "<="):
        return _beyond(c, v, greater=False)
    if v.major != c.major or (c.minor is not None and v.minor != c.minor and c.op == "~"):
        return False
    if c.op == "~":
        if c.patch is not None and v.patch != c.patch:
            return v.patch > c.patch
        return v.pre >= c.pre
    return _caret(c, v)


def _beyond(c: _Comparator, v: Version, *, greater: bool) -> bool:
    for mine, theirs in ((v.major, c.major), (v.minor, c.minor), (v.patch, c.patch)):
        if theirs is None:
            return False
        if mine != theirs:
            return mine > theirs if greater else mine < theirs
    return v.pre > c.pre if greater else v.pre < c.pre


def _caret(c: _Comparator, v: Version) -> bool:
    if c.minor is None:
        return True
    if c.patch is None:
        return v.minor >= c.minor if c.major > 0 else v.minor == c.minor
    if c.major > 0:
        if v.minor != c.minor:
            return v.minor > c.minor
    elif c.minor > 0:
        if v.minor != c.minor:
            return False
    elif v.minor != c.minor or v.patch != c.patch:
        return False
    if v.patch != c.patch:
        return v.patch > c.patch
    return v.pre >= c.pre
