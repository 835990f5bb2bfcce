"""What each benchmark child process does (``bench_delivery.py --role ROLE``); prints JSON.

Every role runs in a fresh process, so that imports, threads and memory never leak between
SDKs or measurements. ``--sdk`` is ``posthog_client`` (orjson when installed), ``posthog_client
-json`` (the same with orjson hidden: the standard library's encoder) or ``posthog`` (the
official SDK).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

API_KEY = "phc_benchmark"
PROPERTIES = {"plan": "pro", "path": "/home/user/project"}  # and "i": three properties


def load(sdk: str) -> Any:
    if sdk == "posthog_client-json":
        sys.modules["orjson"] = None  # type: ignore[assignment]  # as if not installed
    if sdk.startswith("posthog_client"):
        import posthog_client

        return posthog_client
    import posthog

    return posthog


def make(sdk: str, url: str, storage: str, **extra: Any) -> Any:
    module = load(sdk)
    if sdk.startswith("posthog_client"):
        return module.Client(API_KEY, host=url, storage_dir=storage, **extra)
    extra.pop("max_disk_bytes", None)
    return module.Posthog(API_KEY, host=url, **extra)


def capture(client: Any, sdk: str, i: int) -> Any:
    if sdk.startswith("posthog_client"):
        return client.capture("bench_event", {"i": i, **PROPERTIES})
    return client.capture("bench_event", distinct_id="user-1", properties={"i": i, **PROPERTIES})


def sink_count(url: str) -> int:
    with urllib.request.urlopen(url + "/stats", timeout=10) as response:
        return int(json.load(response)["distinct"])


def wait_for_sink(url: str, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while sink_count(url) < count and time.monotonic() < deadline:
        time.sleep(0.005)


def senders() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t is not threading.main_thread()]


def cpu_seconds(threads: list[threading.Thread]) -> float:
    total = 0.0
    for thread in threads:
        try:
            total += time.clock_gettime(time.pthread_getcpuclockid(thread.ident or 0))
        except OSError:  # ended meanwhile
            pass
    return total


def role_capture(sdk: str, url: str, storage: str, events: int) -> dict[str, Any]:
    """capture() latency while the SDK sends, end-to-end rate, memory, the sender's CPU."""
    # posthog's default queue (10k) would drop most of a burst: size it for a fair rate.
    extra = {"max_queue_size": events} if sdk == "posthog" else {}
    client = make(sdk, url, storage, **extra)
    capture(client, sdk, -1)  # warm-up: HTTP stack loaded, first request made, threads up
    client.flush()
    before = sink_count(url)
    threads = senders()
    cpu_before = cpu_seconds(threads)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    latencies = []
    refused = 0
    clock = time.perf_counter_ns
    started = time.perf_counter()
    for i in range(events):
        t0 = clock()
        result = capture(client, sdk, i)
        latencies.append(clock() - t0)
        refused += result is None
    client.flush()
    wait_for_sink(url, before + events - refused)
    elapsed = time.perf_counter() - started
    sender_cpu = cpu_seconds(threads) - cpu_before
    received = sink_count(url) - before
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    client.shutdown()
    latencies.sort()
    return {
        "capture_us": latencies[len(latencies) // 2] / 1000,
        "capture_p99_us": latencies[int(len(latencies) * 0.99)] / 1000,
        "e2e_per_s": received / elapsed,
        "refused": refused,
        "rss_mib": rss / 1024,  # ru_maxrss is KiB on Linux
        "sender_cpu_us": sender_cpu / max(received, 1) * 1e6,
        "sender_share": sender_cpu / elapsed * 100,
    }


def role_threads(sdk: str, url: str, storage: str, threads: int) -> dict[str, Any]:
    """``threads`` threads capturing at once into one client: total rate and latency."""
    each = 40_000 // threads
    client = make(sdk, url, storage, **({"max_queue_size": 50_000} if sdk == "posthog" else {}))
    capture(client, sdk, -1)
    client.flush()
    latencies: list[list[int]] = [[] for _ in range(threads)]
    start = threading.Barrier(threads + 1)

    def work(mine: list[int]) -> None:
        clock = time.perf_counter_ns
        start.wait()
        for i in range(each):
            t0 = clock()
            capture(client, sdk, i)
            mine.append(clock() - t0)

    workers = [threading.Thread(target=work, args=(mine,)) for mine in latencies]
    for worker in workers:
        worker.start()
    start.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    client.shutdown(5)
    merged = sorted(x for mine in latencies for x in mine)
    return {
        "per_s": len(merged) / elapsed,
        "p99_us": merged[int(len(merged) * 0.99)] / 1000,
    }


def role_process(sdk: str, url: str, storage: str, events: int, go: str) -> dict[str, Any]:
    """One of several processes sharing ``storage``: waits for the ``go`` file, captures,
    delivers everything."""
    client = make(sdk, url, storage, **({"max_queue_size": events} if sdk == "posthog" else {}))
    capture(client, sdk, -1)
    client.flush()
    Path(f"{go}.ready.{os.getpid()}").touch()
    while not os.path.exists(go):  # another process: nothing to await but a file
        time.sleep(0.001)
    started = time.perf_counter()
    for i in range(events):
        capture(client, sdk, i)
    captured = time.perf_counter() - started
    pending = client.flush(60)
    client.shutdown(5)
    left = pending.pending if hasattr(pending, "pending") else 0
    return {"captured_s": captured, "pending": left}


def role_burst(sdk: str, url: str, storage: str, events: int) -> dict[str, Any]:
    """Offline: ``events`` captures into a disk queue that keeps ``max_disk_bytes`` (50 MB)."""
    client = make(sdk, url, storage, flush_at=1000)
    started = time.perf_counter()
    for i in range(events):
        capture(client, sdk, i)
    elapsed = time.perf_counter() - started
    stats = client.stats()
    client.shutdown(0)
    return {
        "burst_per_s": events / elapsed,
        "dropped_disk_full": stats.get("dropped_disk_full", 0),
        "dropped_queue_full": stats.get("dropped_queue_full", 0),
    }


def role_kept(storage: str) -> dict[str, Any]:
    """What the burst left on disk, read as the next process would (without sending it)."""
    from posthog_client._delivery.disk_queue import DiskQueue
    from posthog_client._delivery.queue import Counters

    (project,) = (p for p in os.scandir(storage) if p.is_dir())
    queue = DiskQueue(Path(project.path) / "queue", 10**12, Counters())
    queue.maintain(rescan=True)  # adopts the burst's streams
    kept = []
    while (batch := queue.next_batch(5000, 1 << 30)) is not None:
        kept += [json.loads(line)["properties"]["i"] for line in batch.events]
        queue.ack(batch, len(batch.events))
    queue.close()
    return {
        "kept": len(kept),
        "first_kept": min(kept),
        "last_kept": max(kept),
        "in_order": kept == sorted(kept),
    }


def role_kill(sdk: str, url: str, storage: str, events: int) -> None:
    client = make(sdk, url, storage)
    for i in range(events):
        capture(client, sdk, i)
    os.kill(os.getpid(), signal.SIGKILL)


def role_restart(sdk: str, url: str, storage: str) -> None:
    client = make(sdk, url, storage)
    capture(client, sdk, -1)  # one new event; what the killed run left goes first
    client.shutdown(30)


def role_sink(url: str, events: int) -> dict[str, Any]:
    """How fast the sink itself ingests: pre-encoded gzip batches of 500, one connection."""
    import gzip
    import http.client
    from urllib.parse import urlsplit

    host = urlsplit(url)
    connection = http.client.HTTPConnection(host.hostname or "", host.port)
    before = sink_count(url)
    started = time.perf_counter()
    for start in range(0, events, 500):
        batch = ",".join(
            json.dumps({"event": "e", "distinct_id": "u", "uuid": f"sink-{os.getpid()}-{i}",
                        "properties": {"i": i, **PROPERTIES}})
            for i in range(start, start + 500)
        )  # fmt: skip
        body = gzip.compress(f'{{"api_key":"{API_KEY}","batch":[{batch}]}}'.encode(), 1)
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        connection.request("POST", "/batch/", body, headers)
        connection.getresponse().read()
    wait_for_sink(url, before + events)
    return {"sink_per_s": events / (time.perf_counter() - started)}


# import, init, one capture: the time until the first event is queued, in the process
FIRST_EVENT = {
    "posthog_client": "import time; t = time.perf_counter(); import posthog_client as p; "
    "p.init({key!r}, host={url!r}, storage_dir={storage!r}); p.capture('bench_event'); "
    "print((time.perf_counter() - t) * 1000); import os; os._exit(0)",
    "posthog": "import time; t = time.perf_counter(); import posthog; "
    "c = posthog.Posthog({key!r}, host={url!r}); c.capture('bench_event', distinct_id='u'); "
    "print((time.perf_counter() - t) * 1000); import os; os._exit(0)",
}
# import, one capture, and whatever the SDK's atexit hook does with the host unreachable
EXIT_SCRIPTS = {
    "posthog_client": "import posthog_client as p; p.init({key!r}, host={url!r}, "
    "storage_dir={storage!r}); p.capture('bench_event')",
    "posthog": "import posthog; c = posthog.Posthog({key!r}, host={url!r}); "
    "c.capture('bench_event', distinct_id='user-1')",
}
