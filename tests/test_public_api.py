"""Plugins use only the public API that docs/plugins.md lists: the built-in plugins and the
example package are held to the same line a third party is."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "plugins.md"


def public_modules() -> set[str]:
    """The modules in the first column of the docs' "What a plugin may touch" table."""
    text = DOC.read_text(encoding="utf-8")
    table = text.split("## What a plugin may touch", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    return {m for row in rows for m in re.findall(r"`(visionkit[\w.]*)`", row)}


def plugin_files() -> list[Path]:
    files = [p for p in (ROOT / "plugins").rglob("*.py")]
    # example plugins live in folders of their own; a script at the top of examples/ uses the
    # user's API (``import visionkit as vk``), not the plugin API
    files += [p for p in (ROOT / "examples").rglob("*.py")
              if "tests" not in p.parts and len(p.relative_to(ROOT / "examples").parts) > 1]
    return files


def imports(path: Path) -> list[tuple[str, list[str]]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
    return out


def allowed(module: str, path: Path, public: set[str]) -> bool:
    if module.startswith("visionkit.nn"):  # the torch half only
        return path.name in ("head.py", "train.py") or "nn" in path.parts
    if module.startswith("visionkit.gui"):  # a panel only
        return path.name == "panel.py" and module == "visionkit.gui.panels"
    return any(module == m or module.startswith(m + ".") for m in public)


def test_the_docs_list_the_public_modules():
    public = public_modules()
    assert {"visionkit.tasks", "visionkit.results", "visionkit.registry", "visionkit.hookspecs"} <= public


def test_plugins_import_only_the_public_api():
    public = public_modules()
    bad = []
    for path in plugin_files():
        for module, names in imports(path):
            if not module.startswith("visionkit") or module.startswith("visionkit_"):
                continue
            rel = path.relative_to(ROOT)
            if module.startswith("visionkit.plugins"):
                own = rel.parts[1] if rel.parts[0] == "plugins" else None
                if own is None or module.split(".")[2] != own:
                    bad.append(f"{rel}: imports another plugin ({module})")
                continue
            if not allowed(module, path, public):
                bad.append(f"{rel}: {module} is not in the public API table of docs/plugins.md")
            bad += [f"{rel}: imports private {module}.{n}" for n in names if n.startswith("_")]
    assert not bad, "\n".join(bad)


def test_the_check_catches_a_private_import(tmp_path):
    """The rule above can fail: a private name and an unlisted module are both caught."""
    sample = tmp_path / "runtime.py"
    sample.write_text("from visionkit.plugin_manager import _cached\nfrom visionkit.tasks import Task\n")
    public = public_modules()
    found = [(m, n) for m, n in imports(sample)]
    assert not allowed("visionkit.plugin_manager", sample, public)
    assert allowed("visionkit.tasks", sample, public)
    assert any(n.startswith("_") for _, names in found for n in names)
