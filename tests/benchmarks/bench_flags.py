"""Feature flag reads and what flags cost ``capture()``, beside the official ``posthog`` SDK.

    python tests/benchmarks/bench_flags.py [--runs 5] [--calls 200000]

Each run of each SDK is a fresh process with its own local server (``LocalServer(flags=...)``,
in-process, on loopback); the SDKs alternate, their order reversed every other round. A run
times each call's median and p99 (over batches of 1,000 calls, or over single ``capture()``
calls); the Markdown table printed gives each as median [min–max] over the ``--runs`` runs:

- ``feature_enabled()`` of a desktop app's cached flag (the method and the module function),
  after its one ``$feature_flag_called``: a read from memory.
- backends with local evaluation: ours (``secret_key``) and posthog's ``feature_enabled`` and
  ``evaluate_flags(...).is_enabled`` (``only_evaluate_locally``), same definitions, same user.
- ``capture()`` with no flag ever read, with flags attached to every event, and while a flag
  load waits on a server that takes 200 ms to answer: flag loads never run on the caller.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spread import interleaved, median_range

import posthog_client
from posthog_client.server import FlagSource, LocalServer

HERE = Path(__file__).resolve()
OURS, THEIRS = "posthog_client", "posthog"

API_KEY, SECRET = "phc_bench_flags", "phx_bench_flags"
BATCH = 1000
DEFINITIONS = {
    "flags": [
        {"id": 1, "key": "new-ui", "active": True,
         "filters": {"groups": [{"properties": [
             {"key": "plan", "value": ["pro", "team"], "operator": "exact", "type": "person"}],
             "rollout_percentage": 60}]}},
        {"id": 2, "key": "checkout", "active": True,
         "filters": {"groups": [{"properties": [], "rollout_percentage": 100}],
                     "multivariate": {"variants": [{"key": "a", "rollout_percentage": 50},
                                                   {"key": "b", "rollout_percentage": 50}]}}},
    ]
}  # fmt: skip
USER = {"distinct_id": "user-7", "person_properties": {"plan": "pro"}}


def per_call(run: Callable[[], object], calls: int) -> tuple[float, float]:
    """Median and p99 time of one call (µs), from batches of ``BATCH`` calls."""
    for _ in range(BATCH):  # warm-up
        run()
    samples = []
    for _ in range(max(calls // BATCH, 10)):
        start = time.perf_counter_ns()
        for _ in range(BATCH):
            run()
        samples.append((time.perf_counter_ns() - start) / BATCH / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def capture_latency(client: posthog_client.Client, calls: int) -> tuple[float, float]:
    """Median and p99 of single ``capture()`` calls (µs); the queue is flushed in between."""
    times = []
    for i in range(calls):
        start = time.perf_counter_ns()
        client.capture("bench_event", {"i": i})
        times.append((time.perf_counter_ns() - start) / 1000)
        if i % 5000 == 4999:
            client.flush(30)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99)]


def ours(server: LocalServer, calls: int) -> dict[str, tuple[float, float]]:
    results = {}
    with tempfile.TemporaryDirectory() as storage:
        app = posthog_client.init(API_KEY, host=server.url, storage_dir=storage, flush_at=1000)
        results["capture(), no flag read"] = capture_latency(app, calls // 10)
        app.feature_enabled("checkout")
        assert app.wait_for_flags(10)
        results["feature_enabled() cached, Client method"] = per_call(
            lambda: app.feature_enabled("checkout"), calls
        )
        results["feature_enabled() cached, module function"] = per_call(
            lambda: posthog_client.feature_enabled("checkout"), calls
        )
        results["capture(), flags on every event"] = capture_latency(app, calls // 10)
        slow = FlagSource.answer

        def answer_slowly(*args: Any, **kwargs: Any) -> Any:
            time.sleep(0.2)
            return slow(*args, **kwargs)

        FlagSource.answer = answer_slowly  # type: ignore[method-assign]
        app.reload_feature_flags()
        results["capture() while a flag load waits 200 ms"] = capture_latency(app, 2000)
        FlagSource.answer = slow  # type: ignore[method-assign]
        posthog_client.shutdown(10)
        backend = posthog_client.Client(
            API_KEY, host=server.url, mode="server", secret_key=SECRET, persist=False
        )
        backend.feature_enabled("new-ui", **USER)
        results["backend, local evaluation: feature_enabled()"] = per_call(
            lambda: backend.feature_enabled("new-ui", **USER), calls // 10
        )
        backend.shutdown(10)
    return results


def official(server: LocalServer, calls: int) -> dict[str, tuple[float, float]]:
    import posthog

    warnings.simplefilter("ignore", DeprecationWarning)  # feature_enabled: "use evaluate_flags"
    client = posthog.Posthog(API_KEY, host=server.url, secret_key=SECRET, sync_mode=False)
    local = {"only_evaluate_locally": True, **USER}
    assert client.feature_enabled("new-ui", **local) is not None
    results = {
        "backend, local evaluation: feature_enabled()": per_call(
            lambda: client.feature_enabled("new-ui", **local), calls // 10
        ),
        "backend, local evaluation: evaluate_flags().is_enabled()": per_call(
            lambda: client.evaluate_flags(**local).is_enabled("new-ui"), calls // 10
        ),
    }
    client.shutdown()
    return results


ROWS = [  # label, target for ours
    ("feature_enabled() cached, Client method", "≤ 2"),
    ("feature_enabled() cached, module function", "≤ 2"),
    ("capture(), no flag read", ""),
    ("capture(), flags on every event", "as with no flag read"),
    ("capture() while a flag load waits 200 ms", "as with no flag read"),
    ("backend, local evaluation: feature_enabled()", ""),
    ("backend, local evaluation: evaluate_flags().is_enabled()", ""),
]


def one_run(side: str, calls: int) -> dict[str, tuple[float, float]]:
    """One SDK's figures, in a fresh process (``--side``): nothing carries over between runs."""
    done = subprocess.run(
        [sys.executable, str(HERE), "--side", side, "--calls", str(calls)],
        capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    return {name: (median, p99) for name, (median, p99) in json.loads(done.stdout).items()}


def print_table(runs: dict[str, defaultdict[str, list[tuple[float, float]]]], count: int) -> None:
    import posthog

    print(
        f"| per call (µs), median [min–max] of {count} runs | posthog_client median | p99 "
        f"| posthog {posthog.VERSION} median | p99 | target |\n|---|---|---|---|---|---|"
    )
    for label, target in ROWS:
        cells = [
            median_range([run[stat] for run in runs[side][label]], "{:.2f}")
            for side in (OURS, THEIRS)
            for stat in (0, 1)
        ]
        print(f"| {label} | {' | '.join(cells)} | {target} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--side", choices=(OURS, THEIRS), help="(internal) one run of one SDK")
    args = parser.parse_args()
    if args.side:
        with LocalServer(API_KEY, flags=DEFINITIONS, personal_api_key=SECRET) as server:
            measured = (ours if args.side == OURS else official)(server, args.calls)
        print(json.dumps(measured))
        return
    runs: dict[str, defaultdict[str, list[tuple[float, float]]]] = {
        side: defaultdict(list) for side in (OURS, THEIRS)
    }
    for number, side in enumerate(interleaved((OURS, THEIRS), args.runs)):
        for name, figures in one_run(side, args.calls).items():
            runs[side][name].append(figures)
        print(f"run {number // 2 + 1}/{args.runs}: {side} done", file=sys.stderr)
    print_table(runs, args.runs)


if __name__ == "__main__":
    main()
