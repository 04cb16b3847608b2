"""Every name a notebook's code reads is defined in that notebook.

nbval runs the chapters at the fast profile only, so a cell's branch that runs at the standard
profile alone (or with other knobs) is never executed by the suite. This reads every code cell
instead: a name read anywhere that no cell binds (by assignment, import, def, loop, `with`,
`except`, comprehension or parameter) and that is not a builtin is a NameError waiting for the
learner who turns that knob."""

import ast
import builtins
from pathlib import Path

import nbformat
import pytest

from distillab import bench, labs

NOTEBOOKS = bench.chapter_paths() + labs.solution_paths(bench.repository() / "labs")  # what nbval and the bench run
KERNEL_NAMES = {"get_ipython", "display"}  # what IPython's kernel provides without an import


def code_of(path: Path) -> str:
    """The notebook's code cells, with IPython's magics and shell lines left out."""
    cells = [cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    return "\n".join(line for cell in cells for line in cell.splitlines() if not line.lstrip().startswith(("%", "!")))


def bound_and_read(tree: ast.AST) -> tuple[set[str], dict[str, int]]:
    """The names the code binds anywhere, and those it reads, with the line of the first read."""
    bound, read = set(), {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, (ast.Store, ast.Del)):
                bound.add(node.id)
            else:
                read.setdefault(node.id, node.lineno)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound, read


def undefined_names(source: str) -> dict[str, int]:
    bound, read = bound_and_read(ast.parse(source))
    return {name: line for name, line in read.items()
            if name not in bound and name not in KERNEL_NAMES and not hasattr(builtins, name)}


def test_the_check_finds_a_name_only_a_standard_profile_branch_reads():
    source = ("rows = [1, 2]\nby_setting = {r: r for r in rows}\n"
              "if profile_name == 'standard':\n    print(by_arm[1])\n")
    assert undefined_names(source) == {"profile_name": 3, "by_arm": 4}
    assert undefined_names("import numpy as np\nfor i, x in enumerate(np.ones(2)):\n    print(i, x)\n") == {}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_name_a_notebook_reads_is_defined_in_it(path):
    missing = undefined_names(code_of(path))
    assert not missing, f"{path.name} reads names no cell defines: " + ", ".join(
        f"{name} (line {line} of its code)" for name, line in missing.items())
