"""posthog_client against the official ``posthog`` SDK, interleaved, on one loopback sink.

    python tests/benchmarks/bench_delivery.py [--runs 5] [--events 50000]

Each figure is measured ``--runs`` times, the SDKs interleaved in every round (their order
alternating), each measurement in a fresh process (``bench_roles.py``) with a warm bytecode
cache, as an installed package has. Prints the workload, then a Markdown table of the median
and [min–max] of each figure. posthog_client runs twice: with orjson (``posthog-client[fast]``)
and with the standard library's encoder (orjson hidden).

- capture(): the caller's latency of each call while the SDK also sends (persisted: the disk
  queue), median and p99, after a warm-up event (one-time costs are the last rows).
- end to end: events/s from the first capture until the sink has all of them; the sink's own
  rate (pre-encoded batches posted by a bare client) shows it is not the limit.
- sender CPU: CPU time of the SDK's sending threads per event, and as a share of the burst's
  wall time: what they take from the callers (it includes compression and socket system calls,
  done without the GIL).
- threads: 1, 2, 4, 8 threads capturing into one client, 40,000 events in all.
- processes: 4 processes capturing 25,000 events each at once on one storage dir; their
  combined capture rate, and (ours) that the sink then holds every event exactly once.
- burst: 500,000 captures offline into the default 50 MB disk queue: what it keeps.
- kill -9: events missing after a process captures 1,000 and kills itself (ours: the next
  process on the same storage dir delivers what is left).
- exit: wall time of a minimal script (import, one capture, exit) with the port closed and
  with packets dropped (a port whose connections hang), minus a bare ``python -c pass``.
- first event: import + init + the first capture() returning, timed inside the process.
- import: ``-X importtime`` cumulative time of the top-level package.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import bench_roles as roles
from spread import median_range

HERE = Path(__file__).resolve()
TESTS = HERE.parent.parent
sys.path.insert(0, str(TESTS))
from loopback_sink import Blackhole  # noqa: E402

OURS, OURS_JSON, THEIRS = "posthog_client", "posthog_client-json", "posthog"
CHILD_ENV = dict(os.environ)
Results = defaultdict[str, defaultdict[str, list[float]]]


def child(role: str, sdk: str, url: str, storage: str, *extra: str, wait: bool = True) -> Any:
    command = [sys.executable, str(HERE), "--role", role, "--sdk", sdk, "--url", url]
    command += ["--storage", storage, *extra]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=CHILD_ENV
    )
    if not wait:
        return process
    out, err = process.communicate(timeout=600)
    if process.returncode not in (0, -signal.SIGKILL):
        raise RuntimeError(f"{role}/{sdk} failed:\n{err}")
    return json.loads(out) if out.strip() else None


def wall_ms(command: list[str], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, timeout=60, check=True, env=CHILD_ENV)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def import_ms(module: str) -> float:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True, text=True, timeout=60, check=True, env=CHILD_ENV,
    )  # fmt: skip
    for line in done.stderr.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1]) / 1000
    raise RuntimeError(f"no import time for {module}")


def closed_port_url() -> str:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def one_round(results: Results, url: str, work: Path, events: int, flip: bool) -> None:
    sdks = [OURS, OURS_JSON, THEIRS]
    if flip:
        sdks.reverse()
    tag = f"{time.monotonic_ns()}"
    for sdk in sdks:
        for key, value in child("capture", sdk, url, str(work / f"c-{sdk}-{tag}"),
                                "--events", str(events)).items():  # fmt: skip
            results[key][sdk].append(value)
    for sdk in (OURS, THEIRS)[:: -1 if flip else 1]:
        for threads in (1, 2, 4, 8):
            got = child(
                "threads", sdk, url, str(work / f"t-{sdk}-{tag}"), "--threads", str(threads)
            )
            results[f"threads{threads}_per_s"][sdk].append(got["per_s"])
            results[f"threads{threads}_p99_us"][sdk].append(got["p99_us"])
        processes(results, sdk, url, work / f"p-{sdk}-{tag}")
        killed(results, sdk, url, work / f"k-{sdk}-{tag}")
        exits(results, sdk, work / f"x-{sdk}-{tag}")
        script = roles.FIRST_EVENT[sdk].format(key=roles.API_KEY, url=closed_port_url(),
                                               storage=str(work / f"f-{sdk}-{tag}"))  # fmt: skip
        first = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                               timeout=60, check=True, env=CHILD_ENV)  # fmt: skip
        results["first_event_ms"][sdk].append(float(first.stdout))
        results["import_ms"][sdk].append(import_ms(sdk))
    burst = child("burst", OURS, closed_port_url(), str(work / f"b-{tag}"), "--events", "500000")
    burst.update(child("kept", OURS, "", str(work / f"b-{tag}")))  # once the burst's process ended
    for key, value in burst.items():
        results[key][OURS].append(value)
    results["sink_per_s"]["sink"].append(
        child("sink", "posthog", url, "", "--events", "100000")["sink_per_s"]
    )


def processes(results: Results, sdk: str, url: str, storage: Path) -> None:
    go = storage.with_suffix(".go")
    before = roles.sink_count(url)
    running = [child("process", sdk, url, str(storage), "--events", "25000", "--go", str(go),
                     wait=False) for _ in range(4)]  # fmt: skip
    deadline = time.monotonic() + 60
    while len(list(go.parent.glob(f"{go.name}.ready.*"))) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)  # all four imported and warmed up (processes: only files to await)
    go.touch()
    reports = [json.loads(p.communicate(timeout=300)[0]) for p in running]
    results["processes_per_s"][sdk].append(100_000 / max(r["captured_s"] for r in reports))
    roles.wait_for_sink(url, before + 100_004, timeout=60)
    results["processes_delivered"][sdk].append(roles.sink_count(url) - before - 4)


def killed(results: Results, sdk: str, url: str, storage: Path) -> None:
    before = roles.sink_count(url)
    child("kill", sdk, url, str(storage), "--events", "1000")
    extra = 0
    if sdk == OURS:  # the next process on the same storage dir delivers what is left
        child("restart", sdk, url, str(storage))
        extra = 1
    results["lost_kill9"][sdk].append(1000 - (roles.sink_count(url) - before - extra))


def exits(results: Results, sdk: str, storage: Path) -> None:
    bare = wall_ms([sys.executable, "-c", "pass"])
    with Blackhole() as hole:
        for name, url in (("exit_closed_ms", closed_port_url()), ("exit_dropped_ms", hole.url)):
            script = roles.EXIT_SCRIPTS[sdk].format(
                key=roles.API_KEY, url=url, storage=str(storage)
            )
            results[name][sdk].append(wall_ms([sys.executable, "-c", script]) - bare)


ROWS = [  # label, key, format, target for ours (None: no target)
    ("capture() median, persisted (µs)", "capture_us", "{:.2f}", "≤ 5 (orjson), ≤ 8"),
    ("capture() p99 (µs)", "capture_p99_us", "{:.1f}", None),
    ("end to end, 50,000 events (events/s)", "e2e_per_s", "{:,.0f}", "≥ 80,000"),
    ("sender CPU per event (µs)", "sender_cpu_us", "{:.2f}", None),
    ("sender CPU, share of the burst (%)", "sender_share", "{:.0f}", None),
    ("peak RSS growth, 50,000 events (MiB)", "rss_mib", "{:.1f}", "bounded"),
    ("events refused at capture", "refused", "{:,.0f}", "0"),
    ("1 thread: captures/s", "threads1_per_s", "{:,.0f}", None),
    ("2 threads: captures/s", "threads2_per_s", "{:,.0f}", None),
    ("4 threads: captures/s", "threads4_per_s", "{:,.0f}", "≥ 75,000"),
    ("8 threads: captures/s", "threads8_per_s", "{:,.0f}", None),
    ("4 threads: p99 (µs)", "threads4_p99_us", "{:.1f}", "≤ 100"),
    ("8 threads: p99 (µs)", "threads8_p99_us", "{:.1f}", None),
    ("4 processes, one storage dir: captures/s", "processes_per_s", "{:,.0f}", None),
    ("4 processes: events delivered of 100,000", "processes_delivered", "{:,.0f}", "100,000"),
    ("events lost to kill -9 after 1,000 captures", "lost_kill9", "{:,.0f}", "0"),
    ("exit, port closed, over bare python (ms)", "exit_closed_ms", "{:.0f}", "≤ 100"),
    ("exit, packets dropped, over bare python (ms)", "exit_dropped_ms", "{:.0f}", "≤ 300"),
    ("first event queued: import + init + capture (ms)", "first_event_ms", "{:.1f}", "≤ 60"),
    ("import (ms, -X importtime)", "import_ms", "{:.1f}", "≤ 30"),
    ("offline burst of 500,000: captures/s", "burst_per_s", "{:,.0f}", None),
    ("offline burst: events kept (max_disk_bytes 50 MB)", "kept", "{:,.0f}", None),
    ("offline burst: first event kept (of 0–499,999)", "first_kept", "{:,.0f}", "the newest"),
]


def print_report(results: Results, runs: int, events: int) -> None:
    import orjson
    import posthog

    print(
        f"Workload: capture('bench_event', 3 properties: i, plan, path), the SDK's own context "
        f"added; persisted mode (disk queue); loopback sink in its own process; {events:,} "
        f"events per capture run; {runs} rounds, SDKs interleaved; median [min–max].\n"
        f"Python {platform.python_version()} on {platform.system()}, {os.cpu_count()} cores; "
        f"orjson {orjson.__version__}; posthog {posthog.VERSION}.\n"
    )
    print(f"| measure | posthog_client, orjson | posthog_client, json | posthog "
          f"{posthog.VERSION} | target |\n|---|---|---|---|---|")  # fmt: skip
    for label, key, spec, target in ROWS:
        row = results[key]
        cells = [median_range(row.get(sdk, []), spec) for sdk in (OURS, OURS_JSON, THEIRS)]
        print(f"| {label} | {' | '.join(cells)} | {target or ''} |")
    sink = median_range(results["sink_per_s"]["sink"], "{:,.0f}")
    print(f"\nThe sink alone ingests {sink} events/s (one connection, pre-encoded batches).")
    in_order = results["in_order"][OURS]
    print(f"Offline burst: the events kept are the newest, in order: {all(in_order)}.")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--role")
    parser.add_argument("--sdk")
    parser.add_argument("--url")
    parser.add_argument("--storage")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--go")
    args = parser.parse_args()
    if args.role:
        run_role(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        CHILD_ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        CHILD_ENV["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        for sdk in ("posthog_client", "posthog", "orjson"):  # compile once: no run pays for it
            subprocess.run([sys.executable, "-c", f"import {sdk}"], env=CHILD_ENV, check=True)
        port_file = work / "sink-url"
        sink = subprocess.Popen(  # (quiet: it prints the connections clients reset)
            [sys.executable, str(TESTS / "loopback_sink.py"), str(port_file)],
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while not port_file.exists() or not port_file.read_text():
                if time.monotonic() > deadline:
                    raise RuntimeError("the sink did not start")
                time.sleep(0.05)
            url = port_file.read_text()
            results: Results = defaultdict(lambda: defaultdict(list))
            for round_ in range(args.runs):
                one_round(results, url, work, args.events, flip=bool(round_ % 2))
                print(f"round {round_ + 1}/{args.runs} done", file=sys.stderr)
        finally:
            sink.kill()
            sink.wait()
    print_report(results, args.runs, args.events)


def run_role(args: argparse.Namespace) -> None:
    sdk, url, storage, n = args.sdk, args.url, args.storage, args.events
    report: Any
    if args.role == "capture":
        report = roles.role_capture(sdk, url, storage, n)
    elif args.role == "threads":
        report = roles.role_threads(sdk, url, storage, args.threads)
    elif args.role == "process":
        report = roles.role_process(sdk, url, storage, n, args.go)
    elif args.role == "burst":
        report = roles.role_burst(sdk, url, storage, n)
    elif args.role == "kept":
        report = roles.role_kept(storage)
    elif args.role == "sink":
        report = roles.role_sink(url, n)
    elif args.role == "kill":
        report = roles.role_kill(sdk, url, storage, n)
    else:
        report = roles.role_restart(sdk, url, storage)
    if report is not None:
        print(json.dumps(report))


if __name__ == "__main__":
    main()
