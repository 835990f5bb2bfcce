"""The public surface and the house rules the package keeps."""

from __future__ import annotations

import ast
import subprocess
import sys
import types
from pathlib import Path

import posthog_client

PACKAGE = Path(posthog_client.__file__).parent
PUBLIC_MODULES = {"__init__", "testing", "pytest_plugin", "cli", "__main__"}


def test_all_is_sorted_and_complete() -> None:
    assert posthog_client.__all__ == sorted(posthog_client.__all__)
    public = {
        name
        for name, value in vars(posthog_client).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    } - {"annotations"}
    assert public == set(posthog_client.__all__) - {"__version__"}


def test_modules_stay_small() -> None:
    for path in PACKAGE.rglob("*.py"):
        lines = len(path.read_text().splitlines())
        assert lines <= 400, f"{path.relative_to(PACKAGE)} has {lines} lines"


def test_implementation_modules_are_private() -> None:
    for path in PACKAGE.glob("*.py"):
        assert path.stem.startswith("_") or path.stem in PUBLIC_MODULES, path.name


def test_every_module_uses_postponed_annotations() -> None:
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        imports = [
            n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "__future__"
        ]
        assert imports, f"{path.name} lacks 'from __future__ import annotations'"


def test_import_has_no_side_effects_and_loads_no_heavy_modules(tmp_path: Path) -> None:
    code = (
        "import sys, threading, posthog_client;"
        "heavy = [m for m in ('requests', 'filelock', 'platformdirs', 'tenacity', 'urllib3')"
        " if m in sys.modules];"
        "print(heavy, threading.active_count())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    ).stdout.strip()
    assert out == "[] 1"
    assert not any(tmp_path.iterdir())


def test_ci_runs_the_readme_test_command() -> None:
    root = PACKAGE.parent
    command = 'python -m pip install -e ".[test]" && python -m pytest'
    assert command in (root / "README.md").read_text()
    assert command in (root / ".ci" / "run").read_text()
