"""The labs: learner versions generated from the solutions and in sync with them, stored clean,
runnable top to bottom as a learner first meets them (every check "not done yet", nothing
crashes), and giving feedback when a learner writes a wrong answer and then fixes it.
The solution notebooks themselves are executed by nbval (`make test`)."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from distillab import labs

LABS = Path(__file__).resolve().parents[1] / "labs"
SOLUTIONS = labs.solution_paths(LABS)
LEARNERS = [labs.learner_path(path) for path in SOLUTIONS]


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def grading(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def test_there_are_labs():
    assert [path.name[:2] for path in SOLUTIONS] == ["00", "01", "02", "03", "04", "06", "07"]  # chapter 05 reads the ledger: no lab


def test_learner_versions_are_in_sync_with_their_solutions():
    assert labs.stale(LABS) == [], "a learner lab is out of date with its solution: run `make labs`"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda path: path.stem)
def test_the_learner_version_hides_every_solution(solution):
    learner = labs.learner_version(read(solution))
    text = nbformat.writes(learner)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "assert "):
        assert marker not in "".join(c.source for c in learner.cells if grading(c)), marker
    code_solutions = [c for c in learner.cells if grading(c).get("solution") and c.cell_type == "code"]
    assert code_solutions and all(labs.CODE_STUB.splitlines()[1] in c.source for c in code_solutions)
    assert "YOUR ANSWER HERE" in text
    # everything that is not an exercise reaches the learner unchanged
    original = read(solution)
    assert [c.source for c in learner.cells if not grading(c)] == [c.source for c in original.cells if not grading(c)]


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda path: path.stem)
def test_every_written_answer_has_its_question_before_it_in_the_learner_version(solution):
    """A graded written answer is a solution cell: generating the learner lab empties it. So the
    question lives, in bold, in the markdown cell just before it, which the learner keeps."""
    learner = labs.learner_version(read(solution))
    written = [i for i, c in enumerate(learner.cells) if c.cell_type == "markdown" and grading(c).get("solution")]
    assert written, "every lab asks at least one written question"
    for index in written:
        question = learner.cells[index - 1]
        assert learner.cells[index].source.strip() == "YOUR ANSWER HERE"
        assert question.cell_type == "markdown" and not grading(question) and "**" in question.source, (
            f"the written answer {grading(learner.cells[index])['grade_id']!r} has no question before it")
        assert index + 1 == len(learner.cells) or "YOUR ANSWER HERE" not in learner.cells[index + 1].source


@pytest.mark.parametrize("path", SOLUTIONS + LEARNERS, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_labs_are_stored_clean_and_gradable(path):
    notebook = read(path)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    ids = [grading(c)["grade_id"] for c in notebook.cells if grading(c)]
    assert len(ids) == len(set(ids)), "nbgrader needs a unique grade_id per cell"
    graded = [grading(c) for c in notebook.cells if grading(c).get("grade")]
    assert graded and all(g["points"] > 0 for g in graded)
    exercises = [c for c in code if grading(c).get("solution")]
    checks = [c for c in code if grading(c).get("grade") and not grading(c).get("solution")]
    assert len(checks) == len(exercises), "every exercise has its check cell"


def outputs(cell) -> str:
    return "".join(out.get("text", "") + out.get("evalue", "") for out in cell.outputs)


@pytest.mark.parametrize("path", LEARNERS, ids=lambda path: path.stem)
def test_a_fresh_learner_lab_runs_through_and_says_not_done(path, request):
    if path.stem.startswith("07"):  # reads the real model's tokenizer, fetched at set-up
        request.getfixturevalue("real_model")
    notebook = read(path)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(LABS)}}).execute()
    errors = [out for cell in notebook.cells if cell.cell_type == "code"
              for out in cell.outputs if out.output_type == "error"]
    assert not errors, errors
    check_cells = [c for c in notebook.cells if grading(c).get("grade") and c.cell_type == "code"]
    for cell in check_cells:
        assert "not done yet" in outputs(cell), cell.source
    assert "✅" not in "".join(outputs(c) for c in notebook.cells if c.cell_type == "code")
    assert all(outputs(c).count("⏳ This cell uses") <= 1 for c in notebook.cells if c.cell_type == "code")


def test_a_learner_gets_feedback_on_a_wrong_answer_then_passes():
    """What a learner does in JupyterLab: run the lab, fill in an exercise wrongly, run its check,
    read the feedback, fix the code, run the check again."""
    notebook = read(LABS / "00_pricing_a_distillation_run.ipynb")
    exercise = next(i for i, c in enumerate(notebook.cells) if grading(c).get("grade_id") == "rental_dollars")
    check = exercise + 1
    client = NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(LABS)}})
    with client.setup_kernel():
        for index in range(check + 1):
            client.execute_cell(notebook.cells[index], index)
        assert "not done yet" in outputs(notebook.cells[check])
        stub = notebook.cells[exercise].source
        attempts = {"wrong": "    return num_gpus * minutes * dollars_per_gpu_hour",
                    "right": "    return num_gpus * minutes / 60 * dollars_per_gpu_hour"}
        seen = {}
        for attempt, body in attempts.items():
            notebook.cells[exercise].source = stub.replace(
                '    # YOUR CODE HERE\n    raise NotImplementedError("your code here")', body)
            client.execute_cell(notebook.cells[exercise], exercise)
            client.execute_cell(notebook.cells[check], check)
            seen[attempt] = outputs(notebook.cells[check])
        client.execute_cell(notebook.cells[check + 2], check + 2)  # the cell that uses the function
        used = outputs(notebook.cells[check + 2])
    assert seen["wrong"].startswith("❌") and "60 times too much" in seen["wrong"]
    assert seen["right"].startswith("✅")
    assert "Sky-T1" in used and "⏳" not in used
