"""What a learner types into a knob cell, or does to a file, gets a sentence back: which knob or
file, the value, what is allowed. One test per class of mistake, many cases each."""

import errno
import json
import os
from dataclasses import replace

import numpy as np
import pytest
import torch

from distillab import cost, kd_experiments, knobs, losses, rejection, sampling, widgets, world
from distillab import trace_experiments
from distillab.distillation import DistillationConfig, id_dtype
from distillab.ledger import Ledger
from distillab.models import load_model
from distillab.onpolicy import OnPolicyConfig
from distillab.profiles import get_profile
from distillab.records import RecordError
from distillab.students import check_seeds
from distillab.training import TrainingConfig
from distillab.workspace import HALF_BUDGET_TEACHER, workspace

FAST = get_profile("fast")

NUMBERS_AS_TEXT = [
    (lambda: TrainingConfig(num_steps=10, batch_size=4, warmup_steps=0, learning_rate="3e-3"), "learning_rate"),
    (lambda: TrainingConfig(num_steps="10", batch_size=4, warmup_steps=0), "num_steps"),
    (lambda: TrainingConfig(num_steps=10, batch_size="4", warmup_steps=0), "batch_size"),
    (lambda: replace(FAST, trace_prompts="500"), "trace_prompts"),
    (lambda: replace(FAST, learning_rate="0.003"), "learning_rate"),
    (lambda: trace_experiments.trace_prompts("500", {}), "num_prompts"),
    (lambda: kd_experiments.prepare(HALF_BUDGET_TEACHER, "half-budget", FAST, "500"), "num_prompts"),
    (lambda: cost.H100.with_changes(dollars_per_hour="2.5"), "dollars_per_hour"),
    (lambda: cost.H100.with_changes(utilization="0.4"), "utilization"),
    (lambda: cost.seconds_on_this_machine(1e12, "200"), "peak_gflops"),
    (lambda: cost.estimate_training_cost("1e9", 1e9), "num_parameters"),
    (lambda: DistillationConfig(temperature="2"), "temperature"),
    (lambda: DistillationConfig(alpha="0.5"), "alpha"),
    (lambda: DistillationConfig(loss="top_k", top_k="5"), "top_k"),
    (lambda: DistillationConfig(scale_by_t_squared="False"), "scale_by_t_squared"),
    (lambda: OnPolicyConfig(lmbda="0.5"), "lmbda"),
    (lambda: OnPolicyConfig(beta="1"), "beta"),
    (lambda: OnPolicyConfig(temperature="1.0"), "temperature"),
    (lambda: rejection.plan_rejection_sampling({1: 0.9}, "100", 1, "first", 1e6), "num_traces"),
    (lambda: rejection.plan_rejection_sampling({1: "0.9"}, 100, 1, "first", 1e6), "acceptance at difficulty 1"),
    (lambda: rejection.kept_per_prompt(0.5, "2"), "k \\(samples per prompt\\)"),
    (lambda: check_seeds(["0", "1"]), "seeds"),
]


@pytest.mark.parametrize("call, knob", NUMBERS_AS_TEXT)
def test_a_number_typed_as_text_is_named(call, knob):
    with pytest.raises(ValueError, match=knob) as caught:
        call()
    assert "got '" in str(caught.value) or "got (" in str(caught.value) or "got [" in str(caught.value)


OUT_OF_RANGE = [
    (lambda: TrainingConfig(num_steps=10, batch_size=4, warmup_steps=0, grad_clip=-1.0), "grad_clip"),
    (lambda: TrainingConfig(num_steps=10, batch_size=4, warmup_steps=0, grad_clip=0.0), "grad_clip"),
    (lambda: TrainingConfig(num_steps=10, batch_size=4, warmup_steps=0, learning_rate=float("nan")), "learning_rate"),
    (lambda: TrainingConfig(num_steps=10, batch_size=4, warmup_steps=0, learning_rate=float("inf")), "learning_rate"),
    (lambda: replace(FAST, seeds=()), "seeds"),
    (lambda: replace(FAST, seeds=(0, 0)), "seeds"),
    (lambda: replace(FAST, teacher_steps=0), "teacher_steps"),
    (lambda: replace(FAST, warmup_steps=FAST.teacher_steps), "warmup_steps"),
    (lambda: check_seeds(3), "seeds must be a list"),
    (lambda: check_seeds([]), "at least one"),
    (lambda: check_seeds([0, 0]), "distinct"),
    (lambda: check_seeds([True, 1]), "whole numbers"),
    (lambda: cost.H100.with_changes(utilization=0), "utilization"),
    (lambda: cost.H100.with_changes(utilization=1.5), "utilization"),
    (lambda: cost.H100.with_changes(dollars_per_hour=-1), "dollars_per_hour"),
    (lambda: cost.gpu_hours(-1.0), "flops"),
    (lambda: DistillationConfig(alpha=1.5), "alpha"),
    (lambda: DistillationConfig(loss="kl"), "loss must be one of"),
    (lambda: DistillationConfig(loss="top_k", top_k=0), "top_k"),
    (lambda: OnPolicyConfig(lmbda=-0.1), "lmbda"),
    (lambda: OnPolicyConfig(temperature=0), "temperature must be > 0"),
    (lambda: rejection.plan_rejection_sampling({}, 100, 1, "first", 1e6), "at least one difficulty"),
    (lambda: rejection.plan_rejection_sampling({7: 0.9}, 100, 1, "first", 1e6), "difficulty must be"),
    (lambda: rejection.plan_rejection_sampling({1: 0.9}, 100, 0, "first", 1e6), "k \\(samples per prompt\\)"),
    (lambda: rejection.plan_rejection_sampling({1: 0.9}, 100, 1, "best", 1e6), "keep must be one of"),
    (lambda: rejection.plan_rejection_sampling({1: 0.9}, 100, 1, "first", 0), "num_parameters"),
    (lambda: rejection.kept_per_prompt(1.5, 1), "acceptance must be a number from 0 to 1"),
    (lambda: knobs.flag("RUN_SWEEPS", "False"), "RUN_SWEEPS must be one of \\(True, False\\)"),
]


@pytest.mark.parametrize("call, knob", OUT_OF_RANGE)
def test_a_value_out_of_range_or_empty_is_named(call, knob):
    with pytest.raises(ValueError, match=knob):
        call()


def test_zero_means_zero_where_it_is_allowed():
    assert TrainingConfig(num_steps=10, batch_size=4, warmup_steps=0, weight_decay=0).weight_decay == 0
    assert cost.H100.with_changes(dollars_per_hour=0).dollars_per_hour == 0
    assert OnPolicyConfig(lmbda=0.0, beta=0.0).lmbda == 0.0
    assert rejection.kept_per_prompt(0.0, 3) == 0.0
    assert knobs.number("x", np.float32(0.5), minimum=0) == 0.5 and knobs.whole_number("x", np.int64(3), 1) == 3


@pytest.fixture(scope="module")
def model_and_tokenizer():
    model, tokenizer, _ = load_model(HALF_BUDGET_TEACHER)
    return model, tokenizer


DEEP_ERRORS = [
    (lambda m, t: sampling.generate(m, t, ["ana has 3 eggs . how many ?"], 4, batch_size=0), "batch_size"),
    (lambda m, t: sampling.generate(m, t, ["ana has 3 eggs . how many ?"], 0), "max_new_tokens"),
    (lambda m, t: sampling.generate(m, t, ["ana has 3 eggs . how many ?"], "4"), "max_new_tokens"),
    (lambda m, t: sampling.sample_traces(m, t, world.sample_problems(2, 1, seed=0), k=0), "k \\(samples per prompt\\)"),
    (lambda m, t: widgets.top_tokens(torch.zeros(len(t)), t, 1.0, k=1000), "k \\(entries kept of the 67-token"),
    (lambda m, t: widgets.top_tokens(torch.zeros(len(t)), t, 0.0), "temperature must be > 0"),
    (lambda m, t: losses.masked_cross_entropy(torch.zeros(1, 2, 5), torch.tensor([[1, 99]]), torch.ones(1, 2, dtype=torch.bool)),
     "target token id \\(1 to 99\\) lies outside the vocabulary of 5"),
    (lambda m, t: losses.masked_cross_entropy(torch.zeros(1, 2, 5), torch.tensor([[-3, 1]]), torch.ones(1, 2, dtype=torch.bool)),
     "outside the vocabulary"),
    (lambda m, t: losses.top_k_kd(torch.zeros(1, 1, 5), torch.zeros(1, 1, 2), torch.tensor([[[-30000, 1]]], dtype=torch.int16),
                                  torch.ones(1, 1, dtype=torch.bool)), "negative token id"),
    (lambda m, t: losses.top_k_teacher(torch.zeros(1, 1, 5), 6), "k \\(entries kept of the 5-token vocabulary\\)"),
]


@pytest.mark.parametrize("call, message", DEEP_ERRORS)
def test_an_error_from_deep_inside_is_a_sentence(model_and_tokenizer, call, message):
    with pytest.raises(ValueError, match=message):
        call(*model_and_tokenizer)


def test_top_k_ids_fit_any_vocabulary():
    assert id_dtype(67) == torch.int16 and id_dtype(32_768) == torch.int16
    assert id_dtype(151_936) == torch.int32  # Qwen's vocabulary: int16 would wrap these ids to negative ones
    ids = torch.tensor([151_000, 40_000])
    assert torch.equal(ids.to(id_dtype(151_936)).long(), ids)


def test_a_record_without_accuracy_is_refused_not_drawn():
    from helpers import record

    from distillab import records

    for accuracy in ({}, {9: 0.5}, {1: 1.5}, None):
        with pytest.raises(RecordError, match="accuracy|difficulty"):
            replace(record(records.ANSWERS_ONLY, "a", 0.5), accuracy=accuracy)


def test_frontier_flags_must_be_true_or_false():
    from helpers import record

    from distillab import frontier, records

    point = frontier.points([record(records.ANSWERS_ONLY, "a", 0.5)], FAST)[0]
    with pytest.raises(ValueError, match="COUNT_TEACHER_TRAINING"):
        point.total_flops("False")


@pytest.mark.parametrize("make_home, why", [
    (lambda tmp: (tmp / "a file").write_text("x") and tmp / "a file", "Not a directory|File exists"),
    (lambda tmp: tmp / "a file" / "below", "Not a directory"),
])
def test_a_workspace_that_is_not_a_folder_names_distillab_home(tmp_path, monkeypatch, make_home, why):
    (tmp_path / "a file").write_text("not a folder")
    home = make_home(tmp_path)
    monkeypatch.setenv("DISTILLAB_HOME", str(home))
    with pytest.raises(OSError, match=f"({why}).*DISTILLAB_HOME=.*Set DISTILLAB_HOME to a folder you can write to"):
        workspace(FAST)
    with pytest.raises(OSError, match="DISTILLAB_HOME"):
        Ledger(FAST).entries()


def test_a_workspace_that_cannot_be_written_names_distillab_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILLAB_HOME", str(tmp_path))
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # a read-only folder (root may write anywhere)
    with pytest.raises(PermissionError, match="is not writable.*DISTILLAB_HOME"):
        workspace(FAST)


def test_a_full_disk_on_the_ledger_keeps_the_run_and_says_what_to_do(tmp_path, monkeypatch):
    from helpers import record

    from distillab import records

    ledger = Ledger(FAST, tmp_path / "ledger.jsonl")

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="could not write to the ledger .*No space left.*DISTILLAB_HOME"):
        ledger.record(record(records.ANSWERS_ONLY, "a", 0.5))


def test_files_the_package_reads_are_checked(tmp_path):
    from distillab import stored_sweeps

    bad = tmp_path / "sweeps.json"
    bad.write_text(json.dumps({"schema": "distillab.sweeps/1"}))
    with pytest.raises(ValueError, match="run `python -m distillab.kd_experiments`"):
        kd_experiments.load_sweeps(bad)
    with pytest.raises(FileNotFoundError, match="no saved model"):
        load_model(tmp_path / "nowhere")
    assert stored_sweeps.upgrade({"schema": "distillab.sweeps/1"}) == {"schema": "distillab.sweeps/1"}  # only the previous one converts


def test_a_nickname_where_a_teacher_folder_goes_is_named(tmp_path):
    from distillab.records import TeacherRef

    with pytest.raises(FileNotFoundError, match="no saved teacher at gpt-4 .*a name such as 'gpt-4' is not a folder"):
        TeacherRef.of("gpt-4", "gpt-4")
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "provenance.json").write_text(json.dumps({"size": "tiny", "colour": "blue"}))
    with pytest.raises(ValueError, match=r"t/provenance\.json could not be read as a model's provenance"):
        TeacherRef.of(tmp_path / "t", "mine")


def test_a_model_saved_with_another_tokenizer_is_refused_with_the_right_advice(tmp_path):
    from distillab.models import Provenance, build_model, save_model
    from distillab.tokenizer import build_tokenizer

    model = build_model("tiny", build_tokenizer())
    model.config.tokenizer_fingerprint = "another tokenizer's"
    with pytest.raises(ValueError, match="save the model with the tokenizer it was built and trained with"):
        save_model(model, build_tokenizer(), tmp_path / "m", Provenance("tiny", 0, "fast", 1, 1))
    assert not (tmp_path / "m").exists()
