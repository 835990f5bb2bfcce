"""Background loads: coalesced, one at a time, awaited by ticket."""

from __future__ import annotations

import threading

from posthog_client._flagclient.loader import Loader


def test_requests_during_a_load_are_served_by_one_more_load() -> None:
    started, release = threading.Event(), threading.Event()
    loads: list[int] = []

    def load() -> None:
        loads.append(len(loads))
        started.set()
        release.wait(5)

    loader = Loader(load)
    first = loader.request()
    assert started.wait(5)
    later = [loader.request() for _ in range(5)]  # while the first load runs
    release.set()
    assert loader.wait(first, 5) and loader.wait(later[-1], 5)
    assert len(loads) == 2


def test_a_raising_load_still_completes_its_ticket() -> None:
    def load() -> None:
        raise RuntimeError("boom")

    loader = Loader(load)
    assert loader.wait(loader.request(), 5)


def test_after_close_requests_complete_at_once_without_loading() -> None:
    loads: list[None] = []
    loader = Loader(lambda: loads.append(None))
    loader.close()
    assert loader.wait(loader.request(), 0) and loads == []


def test_close_lets_a_load_under_way_finish_within_the_wait() -> None:
    started, finished = threading.Event(), threading.Event()
    release = threading.Event()

    def load() -> None:
        started.set()
        release.wait(5)
        finished.set()

    loader = Loader(load)
    loader.request()
    assert started.wait(5)
    threading.Timer(0.01, release.set).start()
    loader.close(5)
    assert finished.is_set()
