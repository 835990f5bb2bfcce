"""A process that uses the delivery pipeline, for the multi-process tests of test_pipeline.py.

    delivery_child.py submit STORAGE URL SEED COUNT [--acked K] [--hold READY_FILE]
    delivery_child.py fork STORAGE URL SEED COUNT
    delivery_child.py exit STORAGE URL SEED COUNT

Event ``i`` of a run has the uuid ``uuid_for(SEED, i)``, so the test knows what to expect.
``submit`` queues COUNT events (flushing after the first K) and then either shuts down or, with
``--hold``, writes READY_FILE and waits to be killed. ``fork`` queues COUNT events, forks, and
both processes queue COUNT more and flush. ``exit`` queues and leaves it to ``atexit``.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import sys
import threading
import uuid
from pathlib import Path

from posthog_client._config import Options
from posthog_client._delivery.build import build_delivery
from posthog_client._delivery.contract import Delivery


def uuid_for(seed: int, i: int) -> str:
    return str(uuid.UUID(int=(seed << 32) + i))


def encoded(seed: int, i: int) -> bytes:
    message = {"event": "e", "distinct_id": f"p{seed}", "uuid": uuid_for(seed, i), "properties": {}}
    return json.dumps(message).encode()


def pipeline(args: argparse.Namespace, **overrides: object) -> Delivery:
    overrides.setdefault("flush_at", 100)
    overrides.setdefault("flush_interval_s", 60.0)  # nothing leaves unless flushed or due
    return build_delivery(
        Options(api_key="phc_child", host=args.url, storage_dir=Path(args.storage), **overrides)  # type: ignore[arg-type]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["submit", "fork", "exit"])
    parser.add_argument("storage")
    parser.add_argument("url")
    parser.add_argument("seed", type=int)
    parser.add_argument("count", type=int)
    parser.add_argument("--acked", type=int, default=0)
    parser.add_argument("--hold")
    args = parser.parse_args()
    {"submit": submit, "fork": fork, "exit": at_exit}[args.mode](args)


def submit(args: argparse.Namespace) -> None:
    delivery = pipeline(args, flush_at=args.count + 1 if args.hold else 100)
    for i in range(args.count):
        delivery.submit(encoded(args.seed, i))
        if i + 1 == args.acked:
            assert delivery.flush(10).pending == 0
    if args.hold:
        Path(args.hold).write_text("ready")
        threading.Event().wait(60)  # killed long before
        sys.exit(3)
    result = delivery.shutdown(20)
    print(json.dumps({"sent": result.sent, "pending": result.pending, **delivery.stats()}))


def fork(args: argparse.Namespace) -> None:
    delivery = pipeline(args, flush_at=10 * args.count)
    for i in range(args.count):
        delivery.submit(encoded(args.seed, i))
    pid = os.fork()
    if pid == 0:  # the child: its own events only, through its own worker and files
        for i in range(args.count):
            delivery.submit(encoded(args.seed + 1, i))
        result = delivery.flush(10)
        ok = result.sent == args.count and result.pending == 0
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    result = delivery.flush(10)
    print(json.dumps({"child_status": status, "sent": result.sent, **delivery.stats()}))
    delivery.shutdown(5)


def at_exit(args: argparse.Namespace) -> None:
    delivery = pipeline(args, flush_at=1)
    atexit.register(delivery.shutdown, 1.0)  # what the client registers
    for i in range(args.count):
        delivery.submit(encoded(args.seed, i))


if __name__ == "__main__":
    main()
