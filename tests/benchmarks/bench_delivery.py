"""posthog_client against the official ``posthog`` SDK, in one run, on one loopback sink.

    python tests/benchmarks/bench_delivery.py [--events 50000]

Every measurement runs in a fresh process (``--role ...``) so imports, threads and memory do
not leak between SDKs. The sink (tests/loopback_sink.py) is a separate process so its CPU does
not compete with the SDK's. Prints a Markdown table.

- capture(): caller-side latency of each call while the SDK also sends, median and p99, after
  a one-event warm-up (one-time costs are the import and exit rows).
- end to end: events/s from the first capture until the sink has all of them.
- memory: peak RSS growth while ``--events`` are captured and delivered (ru_maxrss).
- kill -9: events missing after a process captures 1,000 and kills itself (ours: a next
  process opens the same storage and delivers what is left).
- exit: wall time of a minimal script (import, one capture, exit) with the sink down, minus a
  bare ``python -c pass``.
- import: ``-X importtime`` cumulative time of the top-level package.

Children run with a bytecode cache (a temporary ``PYTHONPYCACHEPREFIX``), as an installed
package would, even where ``PYTHONDONTWRITEBYTECODE`` is set.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
SINK = HERE.parent.parent / "loopback_sink.py"
SDKS = ("posthog_client", "posthog")
API_KEY = "phc_benchmark"
CHILD_ENV = dict(os.environ)


# -- the SDK side (runs in a child process) ----------------------------------------------------


def make_sdk(sdk: str, url: str, storage: str, **extra: Any) -> Any:
    if sdk == "posthog_client":
        import posthog_client

        return posthog_client.Client(API_KEY, host=url, storage_dir=storage, **extra)
    import posthog

    return posthog.Posthog(API_KEY, host=url, **extra)


def capture(client: Any, sdk: str, i: int) -> Any:
    properties = {"i": i, "plan": "pro", "path": "/home/user/project"}
    if sdk == "posthog_client":
        return client.capture("bench_event", properties)
    return client.capture("bench_event", distinct_id="user-1", properties=properties)


def sink_count(url: str) -> int:
    with urllib.request.urlopen(url + "/stats", timeout=10) as response:
        return int(json.load(response)["distinct"])


def role_throughput(sdk: str, url: str, storage: str, events: int) -> dict[str, Any]:
    # posthog's default queue (10k) would drop most of a burst: size it for a fair rate.
    client = make_sdk(sdk, url, storage, **({"max_queue_size": events} if sdk == "posthog" else {}))
    capture(client, sdk, -1)  # warm-up: HTTP stack loaded, first request made
    client.flush()
    before_count = sink_count(url)
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
    deadline = time.monotonic() + 120
    while sink_count(url) - before_count < events - refused and time.monotonic() < deadline:
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    received = sink_count(url) - before_count
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    client.shutdown()
    latencies.sort()
    return {
        "median_us": latencies[len(latencies) // 2] / 1000,
        "p99_us": latencies[int(len(latencies) * 0.99)] / 1000,
        "events_per_s": received / elapsed,
        "received": received,
        "refused": refused,
        "rss_mib": rss_growth / 1024,  # ru_maxrss is KiB on Linux
    }


def role_kill(sdk: str, url: str, storage: str, events: int) -> None:
    client = make_sdk(sdk, url, storage)
    for i in range(events):
        capture(client, sdk, i)
    os.kill(os.getpid(), signal.SIGKILL)


def role_restart(sdk: str, url: str, storage: str) -> None:
    client = make_sdk(sdk, url, storage)
    capture(client, sdk, -1)  # one new event; what the killed run left goes first
    client.shutdown(30)


# import, one capture, and whatever the SDK's atexit hook does with the sink down
EXIT_SCRIPTS = {
    "posthog_client": "import posthog_client as p; p.init({key!r}, host={url!r}, "
    "storage_dir={storage!r}); p.capture('bench_event')",
    "posthog": "import posthog; c = posthog.Posthog({key!r}, host={url!r}); "
    "c.capture('bench_event', distinct_id='user-1')",
}


# -- the orchestrator --------------------------------------------------------------------------


def child(role: str, sdk: str, url: str, storage: str, events: int = 0) -> str:
    command = [sys.executable, str(HERE), "--role", role, "--sdk", sdk, "--url", url]
    command += ["--storage", storage, "--events", str(events)]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300, check=False, env=CHILD_ENV
    )
    if result.returncode not in (0, -signal.SIGKILL):
        raise RuntimeError(f"{role}/{sdk} failed:\n{result.stderr}")
    return result.stdout


def wall_time(command: list[str], runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, timeout=60, check=True, env=CHILD_ENV)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def import_ms(module: str, runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env=CHILD_ENV,
        )
        for line in result.stderr.splitlines():
            parts = [p.strip() for p in line.split("|")]
            if len(parts) == 3 and parts[2] == module:
                times.append(int(parts[1]) / 1000)
    return statistics.median(times)


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def measure(sdk: str, url: str, events: int, work: Path) -> dict[str, Any]:
    results: dict[str, Any] = json.loads(
        child("throughput", sdk, url, str(work / f"{sdk}-tp"), events)
    )
    before = sink_count(url)
    child("kill", sdk, url, str(work / f"{sdk}-kill"), 1000)
    if sdk == "posthog_client":
        child("restart", sdk, url, str(work / f"{sdk}-kill"))
        results["lost_kill9"] = 1000 - (sink_count(url) - before - 1)
    else:  # nothing persisted: what the killed process did not send is gone
        results["lost_kill9"] = 1000 - (sink_count(url) - before)
    bare = wall_time([sys.executable, "-c", "pass"])
    # A minimal script, not this harness: the row is what the SDK adds to a short program.
    script = EXIT_SCRIPTS[sdk].format(key=API_KEY, url=closed_port_url(), storage=str(work / "x"))
    results["exit_ms"] = (wall_time([sys.executable, "-c", script]) - bare) * 1000
    results["import_ms"] = import_ms(sdk)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--role")
    parser.add_argument("--sdk", choices=SDKS)
    parser.add_argument("--url")
    parser.add_argument("--storage")
    args = parser.parse_args()
    if args.role == "throughput":
        print(json.dumps(role_throughput(args.sdk, args.url, args.storage, args.events)))
        return
    if args.role:
        roles = {"kill": role_kill, "restart": role_restart}
        extra = (args.events,) if args.role == "kill" else ()
        roles[args.role](args.sdk, args.url, args.storage, *extra)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        CHILD_ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        CHILD_ENV["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        for sdk in SDKS:  # compile once, so no measured run pays for it
            wall_time([sys.executable, "-c", f"import {sdk}"], runs=1)
        port_file = work / "sink-url"
        sink = subprocess.Popen([sys.executable, str(SINK), str(port_file)])
        try:
            deadline = time.monotonic() + 30
            while not port_file.exists() or not port_file.read_text():
                if time.monotonic() > deadline:
                    raise RuntimeError("the sink did not start")
                time.sleep(0.05)
            url = port_file.read_text()
            rows = {sdk: measure(sdk, url, args.events, work) for sdk in SDKS}
        finally:
            sink.kill()
            sink.wait()
    print_table(rows, args.events)


def print_table(rows: dict[str, dict[str, Any]], events: int) -> None:
    import posthog

    ours, theirs = rows["posthog_client"], rows["posthog"]
    lines = [
        ("capture() median (µs)", "median_us", "{:.1f}"),
        ("capture() p99 (µs)", "p99_us", "{:.1f}"),
        (f"end to end, {events:,} events (events/s)", "events_per_s", "{:,.0f}"),
        ("events refused at capture", "refused", "{:,}"),
        (f"peak RSS growth, {events:,} events (MiB)", "rss_mib", "{:.1f}"),
        ("events lost to kill -9 after 1,000 captures", "lost_kill9", "{:,}"),
        ("exit with the sink down, over bare python (ms)", "exit_ms", "{:.0f}"),
        ("import time (ms)", "import_ms", "{:.1f}"),
    ]
    print(f"| measure | posthog_client | posthog {posthog.VERSION} |\n|---|---|---|")
    for label, key, spec in lines:
        print(f"| {label} | {spec.format(ours[key])} | {spec.format(theirs[key])} |")


if __name__ == "__main__":
    main()
