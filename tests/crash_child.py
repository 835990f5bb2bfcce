"""A program that dies of an unhandled exception, with exception autocapture on.

Usage: ``python crash_child.py HOST STORAGE_DIR [thread]``. It captures one event, then raises
``ValueError("boom")`` in the main thread (or in a thread, after which it exits normally).
"""

from __future__ import annotations

import sys
import threading

import posthog_client


def fail() -> None:
    raise ValueError("boom")


if __name__ == "__main__":
    host, storage_dir = sys.argv[1], sys.argv[2]
    client = posthog_client.Client(
        "phc_local", host=host, storage_dir=storage_dir, enable_exception_autocapture=True,
    )  # fmt: skip
    client.capture("started")
    if sys.argv[3:] == ["thread"]:
        worker = threading.Thread(target=fail)
        worker.start()
        worker.join()
        print("main thread goes on")
    else:
        fail()
