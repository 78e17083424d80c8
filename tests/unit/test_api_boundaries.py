"""Import boundaries: FastAPI stays inside ``api/``; the API never loads job implementations."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OTHER_PACKAGES = ("workers", "tasks", "schedules", "cli")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _loaded_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


def test_no_module_outside_api_imports_the_web_framework() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for package in OTHER_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if any(name.split(".")[0] in {"fastapi", "starlette"} for name in _imported_modules(path))
    ]

    assert offenders == []


def test_the_client_imports_without_fastapi() -> None:
    loaded = _loaded_after("import api.client")

    assert "api.client" in loaded
    assert "fastapi" not in loaded
    assert "starlette" not in loaded


def test_the_app_never_loads_job_implementations() -> None:
    loaded = _loaded_after(
        "import os, tempfile\n"
        "os.environ['TASKYARD_DATABASE_URL'] = 'sqlite:///' + tempfile.mkdtemp() + '/x.db'\n"
        "from api.app import create_app\n"
        "create_app()"
    )

    assert "tasks.jobs.catalog" in loaded
    assert "tasks.jobs.diag" not in loaded
    # Schedules are checked against the maintenance registry, not the implementations
    assert {name for name in loaded if name.startswith("tasks.maintenance.")} == {
        "tasks.maintenance.catalog"
    }
