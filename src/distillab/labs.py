"""The learner's version of each lab, generated from the instructor's solution notebook with
nbgrader's own preprocessors, so the two can never drift apart.

    labs/solutions/01_a_verifier_you_can_trust.ipynb   the source (nbgrader markers, solutions)
    labs/01_a_verifier_you_can_trust.ipynb             generated: what a learner opens

`### BEGIN SOLUTION` ... `### END SOLUTION` becomes a "your code here" stub, `### BEGIN HIDDEN
TESTS` ... `### END HIDDEN TESTS` is removed, outputs are cleared. Run `make labs` (or
`python -m distillab.labs`) after editing a solution; `--check` only reports stale versions.
nbgrader comes with the `dev` extra (`pip install -e '.[dev]'`).
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import nbformat

SOLUTIONS_FOLDER = "solutions"
CODE_STUB = '# YOUR CODE HERE\nraise NotImplementedError("your code here")'


def learner_version(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The exercise notebook for a solution notebook: solutions stubbed, hidden tests and outputs removed."""
    try:
        from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions
    except ImportError as error:
        raise ImportError("Generating the labs needs nbgrader: pip install -e '.[dev]'") from error
    notebook, resources = copy.deepcopy(solution), {}
    for preprocessor in (ClearSolutions(code_stub={"python": CODE_STUB}), ClearHiddenTests(), ClearOutput()):
        notebook, resources = preprocessor.preprocess(notebook, resources)
    return notebook


def solution_paths(labs: Path) -> list[Path]:
    paths = sorted((labs / SOLUTIONS_FOLDER).glob("*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"No solution notebooks in {labs / SOLUTIONS_FOLDER}: is {labs} the labs folder?")
    return paths


def learner_path(solution: Path) -> Path:
    return solution.parent.parent / solution.name


def _text(notebook: nbformat.NotebookNode) -> str:
    return nbformat.writes(notebook) + "\n"


def stale(labs: Path) -> list[Path]:
    """Learner notebooks that are missing or differ from what their solution generates."""
    out = []
    for path in solution_paths(labs):
        expected = _text(learner_version(nbformat.read(path, as_version=4)))
        target = learner_path(path)
        if not target.exists() or target.read_text(encoding="utf-8") != expected:
            out.append(target)
    return out


def generate(labs: Path) -> list[Path]:
    """Write every learner notebook from its solution; returns the paths written."""
    written = []
    for path in solution_paths(labs):
        target = learner_path(path)
        target.write_text(_text(learner_version(nbformat.read(path, as_version=4))), encoding="utf-8")
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the learner labs from the solution notebooks.")
    parser.add_argument("--labs", type=Path, default=Path("labs"), help="the labs folder (default: labs)")
    parser.add_argument("--check", action="store_true", help="only report learner versions that are out of date")
    args = parser.parse_args(argv)
    if args.check:
        out_of_date = stale(args.labs)
        for path in out_of_date:
            print(f"out of date: {path} (run `make labs`)")
        return 1 if out_of_date else 0
    for path in generate(args.labs):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    from distillab.runtime import run_command

    sys.exit(run_command(main, "distillab.labs"))
