"""pytest fixtures for apps using ``posthog_client``, loaded through the ``pytest11`` entry point.

``posthog_recorder`` records everything the app sends during one test, in memory, with a
temporary storage dir and strict mode (see ``posthog_client.testing.recording``)::

    def test_signup(posthog_recorder):
        myapp.main(["signup", "--email", "a@b.c"])   # calls posthog_client.init/capture/identify
        posthog_recorder.assert_captured("signed_up", person="a@b.c")
        posthog_recorder.assert_identified("a@b.c")

Strict mode (an illegal distinct id or an unserializable property raises in the app) is on by
default; turn it off for a test or module with ``@pytest.mark.posthog_client(strict=False)``, or
for a whole suite by overriding the ``posthog_strict`` fixture in a ``conftest.py``. Loading this
plugin does nothing else: no import of the recorder, no client, no environment change.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .testing import Recorder

__all__ = ["posthog_recorder", "posthog_strict", "pytest_configure"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "posthog_client(strict=True): options of the posthog_recorder fixture for this test",
    )


@pytest.fixture
def posthog_strict() -> bool:
    """Whether ``posthog_recorder`` turns on strict mode; override it to change the default."""
    return True


@pytest.fixture
def posthog_recorder(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, posthog_strict: bool
) -> Iterator[Recorder]:
    """Record what every ``posthog_client`` client sends during the test; restore all after."""
    from .testing import recording  # deferred: the plugin loads in every pytest run

    marker = request.node.get_closest_marker("posthog_client")
    strict = bool(marker.kwargs.get("strict", posthog_strict)) if marker else posthog_strict
    storage_dir = tmp_path_factory.mktemp("posthog_client")
    with recording(strict=strict, storage_dir=storage_dir) as recorder:
        yield recorder
