"""contracts is a general module: it never imports the school sector (checked on the source, with ast)."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[3] / "app" / "general" / "contracts"


def _imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # a relative import stays inside the package
                continue
            names.append(node.module or "")
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__"):
            names += [arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
    return names


def test_the_contracts_package_never_imports_app_school():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) >= 10
    offending = {
        str(path.relative_to(PACKAGE)): name
        for path in files for name in _imported_modules(path)
        if name == "app.school" or name.startswith("app.school.")
    }
    assert offending == {}


def test_the_scan_would_notice_a_school_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from app.school.staff.models import StaffMember\nimport importlib\n"
                      "importlib.import_module('app.school.demo')\n")
    assert "app.school.staff.models" in _imported_modules(sample)
    assert "app.school.demo" in _imported_modules(sample)
