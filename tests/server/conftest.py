from __future__ import annotations

from collections.abc import Iterator

import pytest

from posthog_client.server import LocalServer, PersonEngine

from . import KEY


@pytest.fixture
def engine() -> Iterator[PersonEngine]:
    with PersonEngine() as engine:
        yield engine


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer(KEY) as server:
        yield server
