"""The recipe command end to end, on small checkpoints of real architectures built and saved here,
loaded through the path a downloaded checkpoint takes; on one process and on two (gloo)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from distillab import run_recipe
from distillab import recipe_file
from distillab.architectures import load_causal_lm, save_checkpoint
from distillab.models import ARCHITECTURES, build_model
from distillab.records import LOGITS, ON_POLICY, TRACES, RunRecord
from distillab.tokenizer import build_bpe_tokenizer
from distillab.workspace import resolve

SMALL = {"data": {"prompts_per_difficulty": 6, "difficulties": [1, 2]},
         "training": {"steps": 4, "batch_size": 8, "warmup_steps": 1, "seeds": [0]},
         "evaluation": {"per_difficulty": 3}}


def write_recipe(folder: Path, name: str = "r", **tables) -> Path:
    """A recipe file: SMALL's budget, the reference teacher, and `tables` on top."""
    content = {"": {"name": name, "output": f"out-{name}"}, "teacher": {"path": "package:reference/teacher"}}
    for table, values in [*SMALL.items(), *tables.items()]:  # each table: SMALL's keys, then the test's
        content.setdefault(table, {}).update(values)
    lines = [f"{key} = {json.dumps(value)}" for key, value in content.pop("").items()]
    for table, values in content.items():
        lines += [f"[{table}]"] + [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    path = folder / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def records(output: Path) -> list[RunRecord]:
    return [RunRecord.from_json(line) for line in (output / "ledger.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_trace_distillation_across_tokenizers_for_every_architecture(architecture, tmp_path):
    path = write_recipe(tmp_path, architecture, student={"architecture": architecture, "size": "tiny",
                                                         "tokenizer": "bpe"})
    report = run_recipe.run(recipe_file.load_recipe(path), progress=False)
    output = tmp_path / f"out-{architecture}"
    assert sorted(p.name for p in output.iterdir() if not p.name.startswith(".")) == [
        "ledger.jsonl", "report.json", "report.md", "student-seed0"]  # (and the ledger's hidden lock file)
    student, tokenizer = load_causal_lm(output / "student-seed0")
    assert student.config.model_type == architecture and len(tokenizer) == len(build_bpe_tokenizer())
    [record] = records(output)
    assert (record.family, record.chapter, record.steps) == (TRACES, "06", 4)
    assert record.compute.training > 0 and record.compute.teacher_data > 0
    assert record.teacher.weights_sha256 and record.teacher.parameters > 0
    assert report.teacher_accuracy == {1: 1.0, 2: 1.0} and report.training_examples == 12
    assert len(report.students[0].losses) == 4


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_logit_distillation_runs_with_one_tokenizer_and_refuses_two(architecture, tmp_path):
    path = write_recipe(tmp_path, architecture, recipe={"kind": "logits", "loss": "reverse_kl"},
                        student={"architecture": architecture, "size": "tiny"})
    run_recipe.run(recipe_file.load_recipe(path), progress=False)
    assert records(tmp_path / f"out-{architecture}")[0].family == LOGITS
    across = write_recipe(tmp_path, "across", recipe={"kind": "logits"},
                          student={"architecture": architecture, "size": "tiny", "tokenizer": "bpe"})
    with pytest.raises(ValueError, match="needs one tokenizer.*kind = \"traces\""):
        run_recipe.run(recipe_file.load_recipe(across), progress=False)
    assert not (tmp_path / "out-across").exists()


def test_on_policy_distillation_from_a_saved_student_checkpoint(tokenizer, tmp_path):
    save_checkpoint(build_model("tiny", tokenizer, 3, architecture="qwen2"), tokenizer, tmp_path / "student")
    path = write_recipe(tmp_path, "op", recipe={"kind": "on-policy", "lmbda": 0.5}, student={"path": "student"})
    run_recipe.run(recipe_file.load_recipe(path), progress=False)
    [record] = records(tmp_path / "out-op")
    assert record.family == ON_POLICY and record.model_size == "checkpoint"


def test_natural_language_prompts_with_a_chat_template_and_the_free_text_verifier(tmp_path):
    bpe = build_bpe_tokenizer()
    bpe.chat_template = "{% for m in messages %}<user> {{ m['content'] }}{% endfor %} <assistant>"
    save_checkpoint(build_model("tiny", bpe, 1, architecture="gpt2"), bpe, tmp_path / "teacher")
    path = write_recipe(tmp_path, "natural", teacher={"path": "teacher"}, student={"architecture": "llama",
                        "size": "tiny", "tokenizer": "bpe"}, recipe={"verifier_filter": False},
                        data={"prompt_format": "natural", "max_new_tokens": 6})
    report = run_recipe.run(recipe_file.load_recipe(path), progress=False)
    assert report.training_examples == 12  # unfiltered: every prompt's first sample, whatever it says
    assert report.acceptance < 0.5  # an untrained teacher is rarely right


@pytest.mark.parametrize("tables, message", [
    ({"training": {"stepz": 3}}, r"unknown key \[training\] 'stepz'; allowed: .*\[training\] steps"),
    ({"recipe": {"kind": "rl"}}, r"\[recipe\] kind must be one of \('traces', 'logits', 'on-policy'\), got 'rl'"),
    ({"student": {"architecture": "mamba"}}, r"\[student\] architecture must be one of"),
    ({"training": {"steps": "300"}}, r"\[training\] steps must be a whole number"),
    ({"training": {"micro_batch_size": 9}}, r"\[training\] micro_batch_size \(from 1 to batch_size = 8\)"),
    ({"recipe": {"kind": "on-policy"}, "data": {"prompt_format": "natural"}}, "only the world's prompt format gives"),
])
def test_a_bad_recipe_file_says_what_is_wrong_and_what_is_allowed(tables, message, tmp_path):
    path = write_recipe(tmp_path, **{"student": {"architecture": "llama"}, **tables})
    with pytest.raises(ValueError, match=message):
        recipe_file.load_recipe(path)


def test_micro_batches_reach_the_training_config(tmp_path):
    path = write_recipe(tmp_path, training={"micro_batch_size": 4}, student={"architecture": "llama"})
    assert recipe_file.load_recipe(path).training_config(seed=1).micro_batch_size == 4
    whole = write_recipe(tmp_path, "whole", student={"architecture": "llama"})
    assert recipe_file.load_recipe(whole).training_config(seed=1).micro_batch_size is None


def test_logit_distillation_with_plain_english_prompts(tmp_path):
    """Prompts of different lengths in one batch (right-padded rows) are fine for logit KD."""
    path = write_recipe(tmp_path, "kd-natural", recipe={"kind": "logits", "verifier_filter": False}, student={"architecture": "gpt2", "size": "tiny"},
                        data={"prompt_format": "natural", "max_new_tokens": 6})
    report = run_recipe.run(recipe_file.load_recipe(path), progress=False)
    assert len(report.students[0].losses) == SMALL["training"]["steps"]


def test_help_lists_every_key_of_a_recipe_file(capsys):
    with pytest.raises(SystemExit):
        run_recipe.main(["--help"])
    shown = capsys.readouterr().out
    assert all(f"{key} =" in shown for (_, key) in recipe_file.FILE_KEYS if key not in ("kd_temperature", "beta", "path",
                                                                               "max_new_tokens", "warmup_steps"))


def test_the_command_reports_a_missing_teacher_without_a_traceback(tmp_path, capsys):
    path = write_recipe(tmp_path, teacher={"path": "nowhere"}, student={"architecture": "llama", "size": "tiny"})
    assert run_recipe.main([str(path), "--quiet"]) == 1
    error = capsys.readouterr().err
    assert "[teacher] path 'nowhere' is not a folder: nothing at" in error and "Traceback" not in error


def launch(path: Path, processes: int) -> subprocess.Popen:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    accelerate = Path(sys.executable).parent / "accelerate"
    command = [str(accelerate), "launch", "--multi_gpu", "--num_processes", str(processes), "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(port),
               "-m", "distillab.run_recipe", str(path), "--quiet"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_two_processes_train_the_same_student_as_one(architecture, tmp_path):
    """Greedy teacher data (the same whatever the sharding), the same global batch of 8 rows: two
    processes of 4 rows each take the same steps as one process, up to float rounding."""
    student = {"architecture": architecture, "size": "tiny", "tokenizer": "bpe"}
    training = {**SMALL["training"], "steps": 12}
    one = write_recipe(tmp_path, "one", student=student, recipe={"temperature": 0.0}, training=training)
    two = write_recipe(tmp_path, "two", student=student, recipe={"temperature": 0.0}, training=training)
    alone = run_recipe.run(recipe_file.load_recipe(one), progress=False)
    process = launch(two, 2)
    log, _ = process.communicate(timeout=240)
    assert process.returncode == 0, log
    shared = run_recipe.load_report(tmp_path / "out-two")
    assert shared.processes == 2 and shared.training_examples == alone.training_examples
    assert shared.students[0].accuracy.keys() == alone.students[0].accuracy.keys()
    assert max(abs(a - b) for a, b in zip(alone.students[0].losses, shared.students[0].losses, strict=True)) < 1e-4
    first = load_file(tmp_path / "out-one" / "student-seed0" / "model.safetensors")
    second = load_file(tmp_path / "out-two" / "student-seed0" / "model.safetensors")
    assert max((first[name] - second[name]).abs().max().item() for name in first) < 1e-4
    assert records(tmp_path / "out-two")[0].compute.training == pytest.approx(records(tmp_path / "out-one")[0]
                                                                             .compute.training, rel=1e-6)


def test_on_policy_distillation_on_two_processes(tmp_path):
    """Each process rewrites and scores its rows of every batch; the run ends like a 1-process one."""
    path = write_recipe(tmp_path, "op2", recipe={"kind": "on-policy", "lmbda": 0.5},
                        student={"architecture": "qwen2", "size": "tiny"})
    process = launch(path, 2)
    log, _ = process.communicate(timeout=240)
    assert process.returncode == 0, log
    report = run_recipe.load_report(tmp_path / "out-op2")
    assert report.processes == 2 and len(report.students[0].losses) == SMALL["training"]["steps"]
    [record] = records(tmp_path / "out-op2")
    assert record.family == ON_POLICY and record.compute.training > 0


def worker_pids(launcher: int) -> dict[int, int]:
    """rank -> pid of the recipe processes under `launcher`."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            command = (entry / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if b"distillab.run_recipe" in command and f"DISTILLAB_LAUNCHER={launcher}".encode() in environ:
            rank = [v for v in environ if v.startswith(b"RANK=")]
            if rank:
                found[int(rank[0].split(b"=")[1])] = int(entry.name)
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the worker processes through /proc")
def test_killing_one_process_ends_the_run_clearly_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILLAB_LAUNCHER", str(os.getpid()))
    path = write_recipe(tmp_path, "killed", student={"architecture": "llama", "size": "tiny", "tokenizer": "bpe"},
                        training={**SMALL["training"], "steps": 100000})
    process = launch(path, 2)
    deadline = time.time() + 120
    while not list(tmp_path.glob(".out-killed-*")) and time.time() < deadline:  # training has begun
        time.sleep(0.5)
    workers = worker_pids(os.getpid())
    assert set(workers) == {0, 1}, workers
    os.kill(workers[1], signal.SIGKILL)
    log, _ = process.communicate(timeout=120)
    assert process.returncode != 0
    assert "Nothing was written to the output folder" in log, log[-3000:]
    assert not (tmp_path / "out-killed").exists()
    assert not list(tmp_path.glob(".out-killed-*"))  # the unfinished run's files are gone too


REAL_PAIR = {"teacher": {"path": "package:reference/teacher", "prompt_format": "world"},
             "data": {"prompts_per_difficulty": 3, "difficulties": [1, 2], "prompt_format": "natural"},
             "training": {"steps": 2, "batch_size": 4, "warmup_steps": 0, "learning_rate": 1e-4, "seeds": [0]},
             "evaluation": {"per_difficulty": 1}}


def test_the_course_teacher_into_the_real_model_each_asked_in_its_own_format(real_model, tmp_path):
    """The teacher is asked in the world's format, the real model in plain English through its chat
    template; the student's training texts are the teacher's verified traces, rendered."""
    from distillab import world
    from distillab.architectures import prompt_text
    from distillab.sampling import sample_traces

    path = write_recipe(tmp_path, "real", student={"path": str(real_model)}, **REAL_PAIR)
    loaded = recipe_file.load_recipe(path)
    teacher, teacher_tokenizer = load_causal_lm(resolve(loaded.teacher))
    _, student_tokenizer = load_causal_lm(real_model)
    problems = [p for d in (1, 2) for p in world.sample_problems(3, d, seed=1)]
    samples = sample_traces(teacher, teacher_tokenizer, problems, k=1, temperature=0.0, prompt_format="world")
    data = run_recipe.training_data(loaded, samples, student_tokenizer)
    for (problem, trace), row in zip(samples.traces("first"), [r for d in (1, 2) for r in data.input_ids[d]]):
        expected = prompt_text(problem, student_tokenizer, "natural") + world.in_plain_english(trace) + "<|im_end|>"
        assert student_tokenizer.decode(row.tolist()).startswith(expected)  # then padding (<|im_end|> again)
        assert trace.startswith("<think>") and world.is_correct(trace, problem)  # verified, in the teacher's format
    report = run_recipe.run(loaded, progress=False)
    assert report.training_examples == 6 and report.teacher_accuracy == {1: 1.0, 2: 1.0}  # asked in its own format
    [record] = records(tmp_path / "out-real")
    assert (record.family, record.model_size, record.parameters, record.steps) == (TRACES, "checkpoint", 134_515_008, 2)


@pytest.mark.parametrize("kind", ["logits", "on-policy"])
def test_logits_and_on_policy_refuse_the_cross_tokenizer_pair_before_training(kind, real_model, tmp_path, monkeypatch):
    tables = {**REAL_PAIR, "data": {**REAL_PAIR["data"], "prompt_format": "world"}}
    path = write_recipe(tmp_path, kind, student={"path": str(real_model)}, recipe={"kind": kind}, **tables)
    monkeypatch.setattr(run_recipe, "train_one", lambda *args, **kwargs: pytest.fail("trained"))
    monkeypatch.setattr(run_recipe, "teacher_samples", lambda *args, **kwargs: pytest.fail("sampled"))
    with pytest.raises(ValueError, match="needs one tokenizer"):
        run_recipe.run(recipe_file.load_recipe(path), progress=False)
    assert not (tmp_path / f"out-{kind}").exists()


def test_a_kept_set_smaller_than_one_batch_is_refused_before_training(tmp_path, monkeypatch):
    """The course teacher asked in plain English, which it never saw, is right on almost nothing."""
    path = write_recipe(tmp_path, "few", student={"architecture": "llama", "size": "tiny"},
                        data={"prompt_format": "natural", "max_new_tokens": 6})
    monkeypatch.setattr(run_recipe, "train_one", lambda *args, **kwargs: pytest.fail("trained"))
    with pytest.raises(ValueError, match=r"left \d training examples after the verifier, fewer than one batch of 8.*"
                                         r"\[teacher\] prompt_format"):
        run_recipe.run(recipe_file.load_recipe(path), progress=False)


@pytest.mark.parametrize("tables, message", [
    ({"teacher": {"path": "package:reference/teacher", "prompt_format": "natural"}, "data": {"prompt_format": "world"}},
     "cannot be rewritten in the world's strict format"),
    ({"teacher": {"path": "package:reference/teacher", "prompt_format": "chat"}}, r"\[teacher\] prompt_format must be"),
])
def test_each_model_asked_in_its_own_format_is_checked(tables, message, tmp_path):
    path = write_recipe(tmp_path, **{"student": {"architecture": "llama"}, **tables})
    with pytest.raises(ValueError, match=message):
        recipe_file.load_recipe(path)


def test_a_scoring_recipe_names_the_tokenizer_before_the_prompt_format(tmp_path, real_model_folder, monkeypatch):
    """A pair that fails both hears the deeper reason first, as the doctor says it."""
    monkeypatch.setattr(run_recipe, "train_one", lambda *args, **kwargs: pytest.fail("trained"))
    tables = {"teacher": {"path": "package:reference/teacher", "prompt_format": "world"},
              "data": {"prompt_format": "natural"}, "recipe": {"kind": "logits"}}
    across = write_recipe(tmp_path, "across", student={"path": str(real_model_folder)}, **tables)
    with pytest.raises(ValueError, match="needs one tokenizer"):
        run_recipe.run(recipe_file.load_recipe(across), progress=False)
    alike = write_recipe(tmp_path, "alike", student={"architecture": "llama", "size": "tiny"}, **tables)
    with pytest.raises(ValueError, match="both must be asked the same way"):
        run_recipe.run(recipe_file.load_recipe(alike), progress=False)


def test_model_paths_are_read_from_the_recipe_files_folder_only(tmp_path, monkeypatch):
    (tmp_path / "elsewhere" / "checkpoints" / "teacher").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "elsewhere")  # a folder of that name in the current directory does not count
    (tmp_path / "recipes").mkdir()
    path = write_recipe(tmp_path / "recipes", teacher={"path": "checkpoints/teacher"},
                        student={"architecture": "llama", "size": "tiny"})
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = recipe_file.load_recipe(path)  # an org/name may be a hub model: read (chapter 06 prices one), not run
    with pytest.raises(FileNotFoundError, match=r"\[teacher\] path 'checkpoints/teacher' is not a folder: nothing at "
                                                r".*recipes/checkpoints/teacher \(a relative path is read from the recipe "
                                                r"file's folder\); if 'checkpoints/teacher' is a model on the Hugging "
                                                r"Face hub, run with HF_HUB_OFFLINE=0"):
        run_recipe.run(loaded, progress=False)
    deeper = write_recipe(tmp_path / "recipes", "deeper", teacher={"path": "../models/x/teacher"},
                          student={"architecture": "llama"})
    with pytest.raises(FileNotFoundError, match=r"is not a folder: nothing at .*models/x/teacher \(a relative path is "
                                                r"read from the recipe file's folder\)$"):  # not a hub id: no hub advice
        recipe_file.load_recipe(deeper)
    assert loaded.teacher == "checkpoints/teacher"  # kept as written: with HF_HUB_OFFLINE=0 it is downloaded


def test_a_recipe_output_must_be_a_folder_name_and_the_warmup_adapts_to_the_steps(tmp_path):
    bad = write_recipe(tmp_path, "bad", student={"architecture": "llama"})
    bad.write_text(bad.read_text().replace('output = "out-bad"', "output = 3"))
    with pytest.raises(ValueError, match="output must be a folder name in quotes"):
        recipe_file.load_recipe(bad)
    short = write_recipe(tmp_path, "short", student={"architecture": "llama"}, training={"steps": 30})
    short.write_text(short.read_text().replace("warmup_steps = 1\n", ""))
    assert recipe_file.load_recipe(short).warmup_steps == 7  # a quarter of 30, as the profiles shrink theirs


def test_the_commands_help_shows_every_key_a_recipe_file_may_hold():
    import re

    missing = [f"[{table}] {key}" if table else key for table, key in recipe_file.FILE_KEYS
               if not re.search(rf"(?<!\w){re.escape(key)}\s*=", recipe_file.__doc__)]
    assert not missing, f"python -m distillab.run_recipe --help does not show {missing}"


def test_the_shipped_real_pair_is_priced_by_the_rules_of_thumb_worked_out_by_hand():
    from distillab.cost import GpuAssumptions

    real = recipe_file.load_recipe(recipe_file.EXAMPLE_RECIPES / "qwen2.5-1.5b-to-0.5b.toml")
    gpu = GpuAssumptions(peak_tflops=1000.0, utilization=0.5, dollars_per_hour=2.0)  # 1.8e18 FLOPs an hour
    price = run_recipe.price(real, teacher_parameters=1.5e9, student_parameters=0.5e9, tokens_per_example=300, gpu=gpu)
    # by hand: 2,000 prompts x 5 difficulties x 4 samples = 40,000 samples of 300 tokens at 2 x 1.5e9 per token;
    # 1,000 steps x 32 rows x 300 tokens at 6 x 0.5e9 per token, on 1 seed
    assert price.samples == 40_000
    assert price.teacher_data_flops == pytest.approx(2 * 1.5e9 * 40_000 * 300)  # 3.6e16
    assert price.training_flops == pytest.approx(6 * 0.5e9 * 1_000 * 32 * 300)  # 2.88e16
    assert price.gpu_hours == pytest.approx((3.6e16 + 2.88e16) / 1.8e18)
    assert price.dollars == pytest.approx(2.0 * price.gpu_hours)
    with pytest.raises(ValueError, match="tokens_per_example"):
        run_recipe.price(real, 1.5e9, 0.5e9, 0)
