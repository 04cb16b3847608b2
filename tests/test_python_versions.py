"""Every Python version pyproject.toml allows (3.10 and later) can import the package: no module,
typing name or syntax that appeared after 3.10 is used without a fallback. The lists below are
what 3.11-3.13 added (read from `sys.stdlib_module_names` and `dir(typing)` of 3.10 and 3.13);
when a Python 3.10 interpreter is on this machine, every file is also compiled with it."""

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "distillab"
NEW_MODULES = {"tomllib"}
NEW_TYPING = {"LiteralString", "Never", "NoDefault", "NotRequired", "ReadOnly", "Required", "Self", "TypeAliasType",
              "TypeIs", "TypeVarTuple", "Unpack", "assert_never", "assert_type", "clear_overloads",
              "dataclass_transform", "get_overloads", "get_protocol_members", "is_protocol", "override",
              "reveal_type"}
NEW_NAMES = {"ExceptionGroup", "BaseExceptionGroup", "StrEnum", "TaskGroup"}


def guarded(node: ast.AST, parents: dict) -> bool:
    """Is `node` inside a `try:` whose handlers catch ImportError (or ModuleNotFoundError)?"""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError") for h in node.handlers):
            return True
    return False


def too_new(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in NEW_MODULES and not guarded(node, parents)]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in NEW_MODULES and not guarded(node, parents):
                found.append(node.module)
            if node.module == "typing":
                found += [f"typing.{a.name}" for a in node.names if a.name in NEW_TYPING]
        elif isinstance(node, (ast.Name, ast.Attribute)):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name in NEW_NAMES or (isinstance(node, ast.Attribute) and node.attr == "UTC"):
                found.append(name)
        elif type(node).__name__ in ("TryStar", "TypeAlias", "TypeVar"):  # except*, `type X = ...`, `def f[T]`
            found.append(type(node).__name__)
    return [f"{path.relative_to(SOURCE.parent)}:{item}" for item in found]


def test_no_module_or_name_newer_than_python_3_10_without_a_fallback():
    assert [item for path in sorted(SOURCE.rglob("*.py")) for item in too_new(path)] == []


def test_the_check_catches_an_unguarded_3_11_import(tmp_path):
    path = SOURCE / "__probe_not_a_module__.py"
    try:
        path.write_text("import tomllib\nfrom typing import Self\ntry:\n    import tomllib as t\nexcept ImportError:\n    t = None\n")
        assert too_new(path) == ["distillab/__probe_not_a_module__.py:tomllib",
                                 "distillab/__probe_not_a_module__.py:typing.Self"]
    finally:
        path.unlink()


def python_3_10() -> str | None:
    """A Python 3.10 interpreter that runs (a pyenv shim may exist and refuse), or None."""
    candidates = [str(p) for p in sorted(Path.home().glob(".pyenv/versions/3.10*/bin/python"))]
    candidates += [found for found in [shutil.which("python3.10")] if found]
    for candidate in candidates:
        done = subprocess.run([candidate, "--version"], capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.startswith("Python 3.10"):
            return candidate
    return None


@pytest.mark.skipif(python_3_10() is None, reason="no Python 3.10 interpreter on this machine")
def test_every_file_compiles_under_python_3_10():
    files = [str(p) for p in sorted(SOURCE.rglob("*.py"))]
    done = subprocess.run([python_3_10(), "-c", "import ast, sys\nfor f in sys.argv[1:]: ast.parse(open(f).read(), f)", *files],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
