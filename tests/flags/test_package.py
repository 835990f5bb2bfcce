"""The ``_flags`` room's boundaries: what it may import, and that it loads only when used."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import posthog_client._flags

ROOM = Path(posthog_client._flags.__file__).parent
SHARED_LEAVES = {"_exceptions", "_log", "_types"}


def test_imports_only_the_standard_library_and_the_shared_leaves() -> None:
    for path in sorted(ROOM.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name.split(".")[0] for alias in node.names]
                assert all(n in sys.stdlib_module_names for n in names), (path.name, names)
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0:
                    root = (node.module or "").split(".")[0]
                    assert root in sys.stdlib_module_names or root == "__future__", (path, root)
                elif node.level == 2:
                    assert node.module in SHARED_LEAVES, (path.name, node.module)
                else:
                    assert node.level == 1, (path.name, node.module)


def test_importing_the_package_does_not_load_the_flag_engine() -> None:
    code = "import sys, posthog_client; print('posthog_client._flags' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert out == "False"
