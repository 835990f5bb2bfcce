"""A run of a desktop app that uses feature flags, for tests/flagclient/test_processes.py.

    flags_child.py STORAGE HOST [--wait] [--identify ID] [FLAG ...]

Reads each FLAG (sending ``$feature_flag_called``), optionally waits for fresh flags,
identifies as ID (with ``plan: pro``) and waits for the flags of the identified user, then
prints one JSON object: the values read before and after, and this run's distinct ids.
"""

from __future__ import annotations

import argparse
import json

import posthog_client


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("storage")
    parser.add_argument("host")
    parser.add_argument("--wait", action="store_true")
    parser.add_argument("--identify")
    parser.add_argument("flags", nargs="*")
    args = parser.parse_intermixed_args()
    posthog_client.init("phc_processes", host=args.host, storage_dir=args.storage, read_env=False)
    report = {
        "anonymous_id": posthog_client.get_distinct_id(),
        "before": {key: posthog_client.get_feature_flag(key) for key in args.flags},
    }
    if args.wait:
        report["waited"] = posthog_client.wait_for_flags(10)
    if args.identify:
        posthog_client.identify(args.identify, {"plan": "pro"})
        report["waited"] = posthog_client.wait_for_flags(10)
    report["after"] = {key: posthog_client.get_feature_flag(key) for key in args.flags}
    report["distinct_id"] = posthog_client.get_distinct_id()
    posthog_client.shutdown(5)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
