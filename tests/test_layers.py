"""The package's three layers, as its docstring lists them: every module is listed once, and none
imports from a layer above its own."""

import ast
import re
from pathlib import Path

import pytest

import distillab

PACKAGE = Path(distillab.__file__).parent
LAYERS = ("Core", "Chapter layer", "Front")  # lowest first


def listed_layers(docstring: str) -> dict[str, int]:
    """module -> its layer's rank, from the docstring's bullets ("- Core ...: `world` ...")."""
    ranks = {}
    for bullet in re.split(r"\n- ", docstring)[1:]:
        rank = next(i for i, layer in enumerate(LAYERS) if bullet.startswith(layer))
        for module in re.findall(r"`([a-z_]+)`", bullet):
            assert module not in ranks, f"{module} is listed twice"
            ranks[module] = rank
    return ranks


def modules() -> dict[str, Path]:
    """Each top-level module (a file, or a subpackage such as checks) and its files."""
    found = {path.stem: path for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    found |= {path.parent.name: path.parent for path in PACKAGE.glob("*/__init__.py")}
    return found


def imported(path: Path) -> set[str]:
    """The distillab modules that the file (or every file of the subpackage) at `path` imports."""
    names = set()
    for file in [path] if path.is_file() else sorted(path.glob("*.py")):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "distillab":
                parts = node.module.split(".")
                names |= {parts[1]} if len(parts) > 1 else {alias.name for alias in node.names}
            elif isinstance(node, ast.Import):
                names |= {a.name.split(".")[1] for a in node.names if a.name.startswith("distillab.")}
    return names - {"__version__"}


def test_every_module_is_listed_in_exactly_one_layer():
    ranks = listed_layers(distillab.__doc__)
    assert set(ranks) == set(modules()), (f"not listed: {sorted(set(modules()) - set(ranks))}; "
                                          f"listed but missing: {sorted(set(ranks) - set(modules()))}")


def test_no_module_imports_from_a_layer_above_its_own():
    ranks = listed_layers(distillab.__doc__)
    upward = [f"{module} ({LAYERS[ranks[module]]}) imports {other} ({LAYERS[ranks[other]]})"
              for module, path in modules().items() for other in sorted(imported(path))
              if other in ranks and ranks[other] > ranks[module]]
    assert not upward, upward


def test_the_layer_test_sees_an_upward_import(tmp_path):
    # the check above must be able to fail: a core module importing a chapter's module is caught
    fake = tmp_path / "world.py"
    fake.write_text("from distillab import trace_experiments\nfrom distillab.bench import main\n")
    assert imported(fake) == {"trace_experiments", "bench"}
    ranks = listed_layers(distillab.__doc__)
    assert ranks["world"] < ranks["trace_experiments"] < ranks["bench"]
    with pytest.raises(StopIteration):  # a bullet that names no layer is not silently read
        listed_layers("x\n- Middle: `world`")
