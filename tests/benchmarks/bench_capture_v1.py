"""What capture v1 costs over v0: the per-event conversion, and events/s end to end.

    python tests/benchmarks/bench_capture_v1.py [--runs 5] [--events 50000]

v0 splices the queued events into the ``/batch/`` body as they are; v1 decodes each one and
encodes it again in v1's shape (``_delivery/v1_events.py``), on the delivery thread. Each figure
is measured ``--runs`` times and printed as median [min–max]:

- conversion: µs per event of ``to_v1_event`` on an event as the client queues it (a run: the
  best of 5 timings of 20,000 conversions).
- end to end: events/s from the first ``capture()`` until the loopback sink (a separate process,
  ``tests/loopback_sink.py``) has all of them, persisted mode; v0 and v1 alternate, their order
  reversed every other round.

Each run is a fresh process, and the conversion runs alternate with v0's and v1's: the spread
includes what differs between processes and over the minute the benchmark takes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import timeit
import urllib.request
from pathlib import Path

from spread import interleaved, median_range

HERE = Path(__file__).resolve()
SINK = HERE.parent.parent / "loopback_sink.py"


def conversion_us() -> float:
    from posthog_client._delivery.v1_events import to_v1_event
    from posthog_client._events.encoding import encode_event
    from posthog_client._events.runtime import system_context

    line = encode_event(
        {
            "event": "bench_event",
            "distinct_id": "0194d7c2-5d0a-7c1e-8a1b-3c4d5e6f7a8b",
            "properties": {
                **system_context(),
                "$device_id": "0194d7c2-5d0a-7c1e-8a1b-3c4d5e6f7a8b",
                "$session_id": "0194d7c2-5d0a-7c1e-8a1b-3c4d5e6f7a8c",
                "$is_identified": False,
                "$process_person_profile": False,
                "i": 1,
                "plan": "pro",
                "path": "/home/user/project",
            },
            "timestamp": "2026-01-01T00:00:00.000000+00:00",
            "uuid": "0194d7c2-5d0a-7c1e-8a1b-3c4d5e6f7a8d",
        }
    )
    runs = timeit.repeat(lambda: to_v1_event(line), number=20_000, repeat=5)
    return min(runs) / 20_000 * 1e6


def sink_count(url: str) -> int:
    with urllib.request.urlopen(url + "/stats", timeout=10) as response:
        return int(json.load(response)["distinct"])


def role_throughput(api: str, url: str, storage: str, events: int) -> None:
    import posthog_client

    client = posthog_client.Client("phc_bench", host=url, storage_dir=storage, capture_api=api)
    client.capture("warm_up")
    client.flush()
    before = sink_count(url)
    started = time.perf_counter()
    for i in range(events):
        client.capture("bench_event", {"i": i, "plan": "pro", "path": "/home/user/project"})
    client.flush(120)
    while sink_count(url) - before < events and time.perf_counter() - started < 120:
        time.sleep(0.01)
    print((sink_count(url) - before) / (time.perf_counter() - started))
    client.shutdown()


def run(role: str, *extra: str) -> float:
    """One run of ``role`` in a fresh process; the figure it prints last."""
    result = subprocess.run(
        [sys.executable, str(HERE), "--role", role, *extra],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    return float(result.stdout.split()[-1])


def throughput(api: str, url: str, events: int) -> float:
    with tempfile.TemporaryDirectory() as storage:
        return run(api, "--url", url, "--storage", storage, "--events", str(events))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--role")
    parser.add_argument("--url")
    parser.add_argument("--storage")
    args = parser.parse_args()
    if args.role == "convert":
        print(conversion_us())
        return
    if args.role:
        role_throughput(args.role, args.url, args.storage, args.events)
        return
    with tempfile.TemporaryDirectory() as work:
        port_file = Path(work) / "sink.url"
        sink = subprocess.Popen([sys.executable, str(SINK), str(port_file)])
        try:
            while not port_file.exists() or not port_file.read_text():
                time.sleep(0.05)
            url = port_file.read_text()
            figures: dict[str, list[float]] = {"convert": [], "v0": [], "v1": []}
            for side in interleaved(list(figures), args.runs):
                figures[side].append(
                    run(side) if side == "convert" else throughput(side, url, args.events)
                )
        finally:
            sink.terminate()
            sink.wait(10)
    print(f"median [min–max] of {args.runs} runs")
    print(f"to_v1_event: {median_range(figures.pop('convert'), '{:.2f}')} µs per event")
    for api, values in figures.items():
        print(f"capture {api}: {median_range(values, '{:,.0f}')} events/s end to end")


if __name__ == "__main__":
    main()
