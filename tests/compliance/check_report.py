"""Reads a compliance harness JSON report (``--report FILE.json``) and fails unless every test
passed, except those listed in ``NOT_APPLICABLE`` with the reason they do not apply to this SDK.

A listed test that passes fails the check too, so the list cannot outlive its reason.

    python tests/compliance/check_report.py REPORT.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

NOT_APPLICABLE: dict[str, dict[str, str]] = {}  # suite -> {test: why it does not apply}


def problems(report: dict[str, object]) -> list[str]:
    """What makes ``report`` fail the check: unexpected failures and stale exceptions."""
    found: list[str] = []
    suites = report.get("suites")
    assert isinstance(suites, list)
    for suite in suites:
        allowed = NOT_APPLICABLE.get(suite["name"], {})
        for test in suite["tests"]:
            name = f"{suite['name']}.{test['name']}"
            if test["passed"] and test["name"] in allowed:
                found.append(f"{name} passes now: remove it from NOT_APPLICABLE")
            elif not test["passed"] and test["name"] not in allowed:
                found.append(f"{name} failed: {test['message']}")
    return found


def main() -> int:
    report = json.loads(Path(sys.argv[1]).read_text())
    for suite in report["suites"]:
        for name, reason in NOT_APPLICABLE.get(suite["name"], {}).items():
            print(f"not applicable: {suite['name']}.{name}: {reason}")
    found = problems(report)
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found or not report["suites"] else 0


if __name__ == "__main__":
    sys.exit(main())
