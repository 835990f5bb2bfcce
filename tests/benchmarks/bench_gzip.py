"""Which gzip level for /batch/ bodies: compression ratio and CPU per MB at levels 0-9.

    python tests/benchmarks/bench_gzip.py

Uses events shaped like the client's (real property names, uuids, timestamps) in 500-event
batches; the chosen level is ``posthog_client._delivery.http.GZIP_LEVEL``.
"""

from __future__ import annotations

import json
import time
import uuid
import zlib

from posthog_client._delivery.http import GZIP_LEVEL, HttpBackend


def sample_event(i: int) -> bytes:
    return json.dumps(
        {
            "event": "file_opened",
            "distinct_id": "0193a5b2-7c1e-7f3a-9c4d-5e6f7a8b9c0d",
            "properties": {
                "size_kb": i % 977,
                "path": f"/home/user/project/src/module_{i % 50}.py",
                "$lib": "posthog-client-python",
                "$lib_version": "0.1.0",
                "$os": "Linux",
                "$os_version": "6.8",
                "$python_version": "3.11.7",
                "$session_id": str(uuid.uuid4()),
                "$device_id": "0193a5b2-7c1e-7f3a-9c4d-5e6f7a8b9c0d",
                "$process_person_profile": False,
                "$is_identified": False,
            },
            "timestamp": f"2026-01-01T00:00:{i % 60:02d}.{i:06d}+00:00",
            "uuid": str(uuid.uuid4()),
        },
        separators=(",", ":"),
    ).encode()


def main() -> None:
    body = HttpBackend("phc_bench", "http://127.0.0.1").body([sample_event(i) for i in range(500)])
    print(f"batch of 500 events: {len(body) / 1024:.0f} KiB")
    print("| level | ratio | ms per MB |\n|---|---|---|")
    for level in range(10):
        rounds = 20
        started = time.perf_counter()
        for _ in range(rounds):
            compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
            out = compressor.compress(body) + compressor.flush()
        per_mb = (time.perf_counter() - started) / rounds / (len(body) / 1e6) * 1000
        mark = " (chosen)" if level == GZIP_LEVEL else ""
        print(f"| {level}{mark} | {len(body) / len(out):.1f}x | {per_mb:.2f} |")


if __name__ == "__main__":
    main()
