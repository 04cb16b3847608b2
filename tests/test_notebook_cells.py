"""Notebook cells call the package: none indexes stored results by string keys or builds a table's
rows (with its numbers formatted by hand) in the cell. Each reads attributes of what the package's
readers return, and passes rows the package made, with their formats, to `tables.markdown_table`."""

import ast

import nbformat
import pytest

from distillab import bench, labs

NOTEBOOKS = bench.chapter_paths() + labs.solution_paths(bench.repository() / "labs")
READERS = {"load_sweeps", "load_sweep", "load_or_measure"}  # what returns stored results


def _called(node: ast.Call) -> str | None:
    return node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)


def _root(node: ast.AST) -> str | None:
    """The name an expression such as `stored.comparisons["arms"][0]` starts from."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return getattr(node, "id", None)


def cell_trees(path) -> list[ast.AST]:
    cells = [cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    return [ast.parse("\n".join(line for line in cell.splitlines() if not line.lstrip().startswith(("%", "!"))))
            for cell in cells]


def package_work(trees: list[ast.AST]) -> list[str]:
    """Each place a cell indexes stored results by a string, or hands `markdown_table` rows it built."""
    stored = {target.id for tree in trees for node in ast.walk(tree)
              if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and _called(node.value) in READERS
              for target in node.targets if isinstance(target, ast.Name)}
    found = []
    for index, tree in enumerate(trees):
        for node in ast.walk(tree):
            if (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)
                    and (_root(node) in stored or node.slice.value == "comparisons")):
                found.append(f"code cell {index}: {ast.unparse(node)} indexes stored results by a string")
            if (isinstance(node, ast.Call) and _called(node) == "markdown_table" and node.args
                    and isinstance(node.args[0], (ast.List, ast.ListComp))):
                found.append(f"code cell {index}: builds a table's rows in the cell: {ast.unparse(node)[:80]}")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_no_cell_reads_stored_results_by_string_or_builds_a_tables_rows(path):
    assert package_work(cell_trees(path)) == []


def test_the_scan_finds_both_kinds_of_package_work():
    trees = [ast.parse('stored = kd_experiments.load_sweeps()\nx = stored["comparisons"]["N"]'),
             ast.parse('display(tables.markdown_table([{"a": f"{v:.1f}"} for v in values]))'),
             ast.parse('rows = teacher.ledger_rows(ledger)\ntables.markdown_table(rows, teacher.LEDGER_FORMATS)')]
    found = package_work(trees)
    assert len(found) == 3 and found[0].startswith("code cell 0") and found[2].startswith("code cell 1"), found
