"""The layering rules of DESIGN.md, checked on the source: core imports neither torch nor Qt at
module level, and plugins never import each other."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imports_of(path: Path) -> list[tuple[str, bool]]:
    """(module imported, at module level?) for every import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = set(map(id, tree.body))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, id(node) in top))
    return found


def test_core_does_not_import_torch_or_qt_at_module_level():
    for path in (ROOT / "visionkit").rglob("*.py"):
        if "nn" in path.relative_to(ROOT / "visionkit").parts:
            continue
        for module, top_level in imports_of(path):
            assert not (top_level and module.split(".")[0] in ("torch", "PySide6")), (path, module)


def test_plugins_never_import_each_other():
    plugins = [p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").is_file()]
    for name in plugins:
        for path in (ROOT / "plugins" / name).rglob("*.py"):
            for module, _ in imports_of(path):
                parts = module.split(".")
                if parts[:2] == ["visionkit", "plugins"] and len(parts) > 2:
                    assert parts[2] == name, f"{path.relative_to(ROOT)} imports {module}"


def test_only_recipes_and_the_cli_import_the_builtin_plugins():
    """Core is what plugins build on; only the layers above them (the training recipes that
    compose the built-in heads, and the CLI) may name them."""
    allowed = ("nn/recipes", "cli")
    for path in (ROOT / "visionkit").rglob("*.py"):
        rel = path.relative_to(ROOT / "visionkit").as_posix()
        if rel.startswith(allowed):
            continue
        for module, _ in imports_of(path):
            assert not module.startswith("visionkit.plugins"), (rel, module)
