"""Every `python -m distillab.*` command ends a bad input or a fault in one line on stderr that
says what was wrong, and a non-zero exit: never a traceback."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from distillab.runtime import run_command

BAD_INPUTS = {  # command -> arguments that are wrong, and words its one line must hold
    "teacher": (["--profile", "quick"], "unknown profile 'quick'"),
    "run_recipe": (["nowhere.toml"], "no recipe file at nowhere.toml"),
    "realmodel": (["--wheel", "nowhere.whl"], "no wheel file at nowhere.whl"),
    "doctor": (["package:reference/teacher", "nowhere"], "no checkpoint at nowhere"),
    "labs": (["--labs", "nowhere"], "No solution notebooks in nowhere"),
    "bench": (["--only", "08_nothing"], "no such chapter or lab: 08_nothing"),
    "kd_experiments": (["--profile", "quick"], "unknown profile 'quick'"),
    "trace_experiments": (["--profile", "quick"], "unknown profile 'quick'"),
    "filter_experiments": (["--profile", "quick"], "unknown profile 'quick'"),
    "onpolicy_experiments": (["--profile", "quick"], "unknown profile 'quick'"),
    "transfer_experiments": (["--profile", "quick"], "unknown profile 'quick'"),
    "realmodel_sweeps": (["--profile", "quick"], "unknown profile 'quick'"),
    "realmodel_fine_tuning": (["--profile", "quick"], "unknown profile 'quick'"),
    "stored_sweeps": (["--upgrade", "nowhere.json"], "nowhere.json"),
}


@pytest.mark.parametrize("command", BAD_INPUTS)
def test_a_bad_input_is_one_line_and_a_nonzero_exit(command, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISTILLAB_MODELS", str(tmp_path / "models"))  # no model there: realmodel must look at the wheel
    arguments, words = BAD_INPUTS[command]
    module = importlib.import_module(f"distillab.{command}")
    code = run_command(lambda: module.main(arguments), f"distillab.{command}")
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1 and err.startswith(f"distillab.{command}: ") and words in err, err


def test_a_workspace_that_is_a_file_ends_the_teacher_command_in_one_line(tmp_path):
    """The case from the field: DISTILLAB_HOME pointing at a regular file."""
    (tmp_path / "home").write_text("not a folder")
    done = subprocess.run([sys.executable, "-m", "distillab.teacher", "--profile", "fast"], capture_output=True,
                          text=True, env={**__import__("os").environ, "DISTILLAB_HOME": str(tmp_path / "home")})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("distillab.teacher: ") and "DISTILLAB_HOME" in lines[0], done.stderr


def test_ctrl_c_and_a_normal_exit(capsys):
    def stopped():
        raise KeyboardInterrupt

    assert run_command(stopped, "distillab.x") == 130 and "stopped (Ctrl-C)" in capsys.readouterr().err
    assert run_command(lambda: None, "distillab.x") == 0 and run_command(lambda: 3, "distillab.x") == 3


def test_any_other_error_is_one_line_that_names_the_log_of_its_traceback(capsys):
    def failing():
        raise RuntimeError("a fault deep inside\n  torch")

    assert run_command(failing, "distillab.x") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("distillab.x: failed with RuntimeError: a fault deep inside torch")
    log = Path(err.split("the traceback is in ", 1)[1].split(")", 1)[0])
    assert "Traceback" in log.read_text() and 'raise RuntimeError("a fault deep inside' in log.read_text()
    log.unlink()


def test_every_command_ends_through_run_command():
    package = Path(importlib.import_module("distillab").__file__).parent
    for module in package.glob("*.py"):
        source = module.read_text(encoding="utf-8")
        if '\nif __name__ == "__main__":' in source:
            tail = source.split('\nif __name__ == "__main__":', 1)[1]
            assert "sys.exit(run_command(" in tail, f"{module.name} ends its command without runtime.run_command"
