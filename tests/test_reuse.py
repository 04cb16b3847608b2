"""Run reuse: a run's key changes with every ingredient of its result; a comparison reads a finished
run of the same key back from the ledger (equal to a fresh run), trains only what changed, never
reuses an interrupted run, and trains in worker processes with the sequential results, keeping
every finished run when it is stopped."""

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest

from distillab import records, reuse, runtime, worker_pool, world
from distillab.architectures import LoraSettings
from distillab.distillation import DistillationConfig, cache_teacher, kd_objective
from distillab.ledger import Ledger
from distillab.models import STUDENT_SIZE, build_model, state_sha256
from distillab.onpolicy import OnPolicyConfig
from distillab.profiles import get_profile
from distillab.records import TeacherRef
from distillab.comparison import StudentRun
from distillab.students import Arm, Setup, compare
from distillab.tokenizer import build_bpe_tokenizer, build_tokenizer
from distillab.training import TrainingConfig, TrainingSet
from distillab.workspace import HALF_BUDGET_TEACHER, REFERENCE_TEACHER

PROFILE = replace(get_profile("fast"), seeds=(0, 1))


TEACHER = HALF_BUDGET_TEACHER  # the one the conftest's teacher fixture loads here


def small_setup(tokenizer, teacher=None, steps=3, held_out_seed=9) -> Setup:
    return Setup(chapter="02", profile=PROFILE, teacher=teacher, tokenizer=tokenizer,
                 teacher_ref=TeacherRef.of(HALF_BUDGET_TEACHER, "half-budget"),
                 held_out={1: world.sample_problems(4, 1, seed=held_out_seed)},
                 training=TrainingConfig(steps, 4, warmup_steps=0))


def traces(tokenizer, seed=0, count=8) -> TrainingSet:
    return TrainingSet.from_problems({1: world.sample_problems(count, 1, seed=seed)}, tokenizer)


def test_the_key_changes_with_each_ingredient_of_a_result(tokenizer, teacher, monkeypatch):
    setup, data = small_setup(tokenizer), traces(tokenizer)
    arm = Arm(records.TRACES, data, teacher_data_flops=5.0, settings={"k": 1})
    base = reuse.run_key(setup, arm, 0)
    assert base == reuse.run_key(small_setup(tokenizer), Arm(records.TRACES, traces(tokenizer), teacher_data_flops=5.0,
                                                             settings={"k": 1}), 0)  # the same recipe: the same key
    changed_ids = {d: ids.clone() for d, ids in data.input_ids.items()}
    changed_ids[1][0, -2] = (changed_ids[1][0, -2] + 1) % len(tokenizer)
    warm = {0: StudentRun("warm", 0, {1: 0.5}, 1.0, 1.0, 1, 8, model=build_model(STUDENT_SIZE, tokenizer, seed=0))}
    other_warm = {0: replace(warm[0], model=build_model(STUDENT_SIZE, tokenizer, seed=1))}
    bpe = build_bpe_tokenizer()
    other_teacher = replace(setup.teacher_ref, weights_sha256=TeacherRef.of(REFERENCE_TEACHER, "x").weights_sha256)
    variants = {
        "family": (setup, replace(arm, family=records.TEACHER), 0),
        "objective": (setup, replace(arm, objective=kd_objective(DistillationConfig())), 0),
        "objective's knobs": (setup, replace(arm, objective=kd_objective(DistillationConfig(temperature=2.0))), 0),
        "teacher on the fly": (setup, replace(arm, objective=kd_objective(DistillationConfig(), teacher.model)), 0),
        "on-policy settings": (setup, replace(arm, on_policy=OnPolicyConfig()), 0),
        "on-policy λ": (setup, replace(arm, on_policy=OnPolicyConfig(lmbda=0.5)), 0),
        "data content": (setup, replace(arm, data=TrainingSet(changed_ids, data.completion_mask, data.extras,
                                                               data.tokenizer_fingerprint)), 0),
        "cached teacher log-probs": (setup, replace(arm, data=cache_teacher(teacher.model, data).data), 0),
        "budget": (setup, replace(arm, training=TrainingConfig(4, 4, warmup_steps=0)), 0),
        "batch": (setup, replace(arm, training=TrainingConfig(3, 2, warmup_steps=0)), 0),
        "seed": (setup, arm, 1),
        "warm start": (setup, replace(arm, warm_start=warm), 0),
        "warm start's weights": (setup, replace(arm, warm_start=other_warm), 0),
        "architecture": (setup, replace(arm, architecture="qwen2"), 0),
        "tokenizer": (setup, replace(arm, tokenizer=bpe), 0),
        "LoRA": (setup, replace(arm, lora=LoraSettings()), 0),
        "prompt format": (setup, replace(arm, prompt_format="natural"), 0),
        "teacher's weights": (replace(setup, teacher_ref=other_teacher), arm, 0),
        "held-out set": (small_setup(tokenizer, held_out_seed=10), arm, 0),
        "teacher data cost": (setup, replace(arm, teacher_data_flops=6.0), 0),
        "settings": (setup, replace(arm, settings={"k": 2}), 0),
    }
    keys = {name: reuse.run_key(*args) for name, args in variants.items()}
    assert base not in keys.values() and len(set(keys.values())) == len(keys), keys
    monkeypatch.setattr(reuse, "training_code_version", lambda: "another version of the training code")
    assert reuse.run_key(setup, arm, 0) != base
    monkeypatch.undo()
    assert reuse.run_key(setup, arm, 0) == base
    monkeypatch.setattr(reuse, "numerics", lambda threads: {"threads": threads, "cpu capability": "another CPU's"})
    assert reuse.run_key(setup, arm, 0) != base  # another instruction set sums in another order


def test_a_comment_or_docstring_keeps_every_key_and_a_change_to_the_loss_does_not():
    sources = reuse.training_code_sources()
    assert reuse.code_version(sources) == reuse.training_code_version()
    losses = sources["losses"]
    body = "    return scale * _reduce(per_position, reduction)\n"
    assert losses.count(body) == 2  # forward_kl's and top_k_kd's last line
    documented = losses.replace('"""', '"""Said another way. ', 1).replace(body, "    # the same, commented\n" + body)
    assert documented != losses
    assert reuse.code_version({**sources, "losses": documented}) == reuse.training_code_version()
    changed = losses.replace(body, body.replace("scale *", "0.5 * scale *"), 1)  # forward KL halved
    assert reuse.code_version({**sources, "losses": changed}) != reuse.training_code_version()
    message = losses.replace("must", "has to", 1)  # what a learner reads is behaviour too
    assert message != losses and reuse.code_version({**sources, "losses": message}) != reuse.training_code_version()


def test_a_hand_written_objective_has_no_key_and_is_never_reused(tokenizer):
    from distillab.training import sft_objective

    arm = Arm(records.TRACES, traces(tokenizer), objective=lambda model, batch: sft_objective(model, batch))
    assert reuse.run_key(small_setup(tokenizer), arm, 0) is None


def two_arms(tokenizer, temperature=1.0, teacher=None):
    data = traces(tokenizer)
    logits = cache_teacher(teacher, data).data
    return {"SFT": Arm(records.TRACES, data, settings={"arm": "sft"}),
            "KD": Arm(records.LOGITS, logits, kd_objective(DistillationConfig(temperature=temperature)),
                      settings={"T": temperature})}


def test_a_reused_run_equals_a_fresh_one_and_retrain_trains_again(tokenizer, teacher, capsys):
    setup, ledger = small_setup(tokenizer, teacher.model), Ledger(PROFILE)
    first = compare(setup, two_arms(tokenizer, teacher=teacher.model), ledger=ledger, workers=1)
    assert first.timing["trained"] == 4 and len(ledger.entries()) == 4
    assert all(record.key and record.weights_sha256 for record in ledger.entries())
    capsys.readouterr()
    again = compare(setup, two_arms(tokenizer, teacher=teacher.model), ledger=ledger, workers=1)
    assert "4 of 4 runs reused from your ledger" in capsys.readouterr().out
    assert again.timing == {**again.timing, "reused": 4, "trained": 0} and len(ledger.entries()) == 4
    fresh = compare(setup, two_arms(tokenizer, teacher=teacher.model), ledger=ledger, workers=1, retrain=True)
    assert "RETRAIN" in capsys.readouterr().out and fresh.timing["trained"] == 4 and len(ledger.entries()) == 8
    for name in first:
        for reused, trained in zip(again[name], fresh[name]):
            assert reused.reused and not trained.reused
            assert (reused.accuracy, reused.flops, reused.steps) == (trained.accuracy, trained.flops, trained.steps)
            assert state_sha256(reused.model) == state_sha256(trained.model)  # the saved weights, loaded
            assert reused.record.key == trained.record.key


def test_changing_one_knob_trains_only_the_arm_it_touches(tokenizer, teacher, capsys):
    setup, ledger = small_setup(tokenizer, teacher.model), Ledger(PROFILE)
    compare(setup, two_arms(tokenizer, teacher=teacher.model), ledger=ledger, workers=1)
    capsys.readouterr()
    hotter = compare(setup, two_arms(tokenizer, temperature=2.0, teacher=teacher.model), ledger=ledger, workers=1)
    assert hotter.timing["reused"] == 2 and hotter.timing["trained"] == 2
    assert [run.reused for run in hotter["SFT"]] == [True, True] and [run.reused for run in hotter["KD"]] == [False, False]
    out = capsys.readouterr().out
    assert "2 of 4 runs reused" in out and "training: KD x 2 (seeds 0, 1)" in out


def test_an_interrupted_run_is_never_reused_and_missing_weights_are_trained_again(tokenizer, teacher):
    setup, ledger = small_setup(tokenizer, teacher.model), Ledger(PROFILE)
    arms = {"SFT": two_arms(tokenizer, teacher=teacher.model)["SFT"]}
    first = compare(setup, arms, seeds=(0,), ledger=ledger, workers=1)
    record = first["SFT"][0].record
    ledger.clear()
    ledger.record(replace(record, interrupted=True, steps=1))
    assert compare(setup, arms, seeds=(0,), ledger=ledger, workers=1).timing["trained"] == 1
    assert compare(setup, arms, seeds=(0,), ledger=ledger, workers=1).timing["reused"] == 1
    (reuse.student_folder(PROFILE, record.key) / "model.safetensors").write_bytes(b"not these weights")
    assert compare(setup, arms, seeds=(0,), ledger=ledger, workers=1).timing["trained"] == 1
    # without the models (chapter 07's are not kept), the record alone is reused
    assert compare(setup, arms, seeds=(0,), ledger=ledger, keep_models=False).timing["reused"] == 1


def test_workers_give_the_sequential_results(tokenizer, teacher):
    """Bit for bit, at a length where a run outlives the other by several progress reports (the old
    workers gave a run every core once the others were done, so its threads changed mid-run)."""
    setup = small_setup(tokenizer, teacher.model, steps=6)
    arms = two_arms(tokenizer, teacher=teacher.model)
    longer = TrainingConfig(6 + 4 * worker_pool.REPORT_EVERY, 4, warmup_steps=0)
    arms = {"SFT": arms["SFT"], "KD": replace(arms["KD"], training=longer)}
    here = compare(setup, arms, workers=1)
    there = compare(setup, arms, workers=2)
    assert here.timing["workers"] == 1 and there.timing["workers"] == 2
    for name in here:
        for a, b in zip(here[name], there[name]):
            assert (a.seed, a.accuracy, a.flops, a.steps) == (b.seed, b.accuracy, b.flops, b.steps)
            assert a.history.loss == b.history.loss and state_sha256(a.model) == state_sha256(b.model)
            assert a.record.key == b.record.key
            assert a.record.numerics == b.record.numerics == runtime.numerics(runtime.STUDENT_THREADS)
            assert set(a.history.threads) == set(b.history.threads) == {runtime.STUDENT_THREADS}  # from first step to last
    assert here["KD"][0].steps == longer.num_steps


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_keeps_every_finished_run_and_the_next_run_trains_only_the_rest(tokenizer, workers):
    setup = small_setup(tokenizer, steps=150)
    arms = {"traces": Arm(records.TRACES, traces(tokenizer)),
            "more traces": Arm(records.TRACES, traces(tokenizer, seed=1, count=16))}
    ledger = Ledger(PROFILE)
    seeds = (0, 1, 2)

    def press_stop_once_a_run_is_recorded():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (ledger.path.is_file() and ledger.path.read_text().strip()):
            time.sleep(0.05)
        time.sleep(1.0)  # the next runs are well into training (a run here takes about 4 s)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=press_stop_once_a_run_is_recorded, daemon=True).start()
    with pytest.raises(KeyboardInterrupt, match="stopped during"):
        compare(setup, arms, seeds, ledger=ledger, workers=workers)
    kept = ledger.entries()
    finished = [r for r in kept if not r.interrupted]
    assert finished and len(kept) < len(arms) * len(seeds)
    assert any(r.interrupted for r in kept) and all(r.steps < 150 for r in kept if r.interrupted)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    again = compare(setup, arms, seeds, ledger=ledger, workers=workers)
    assert again.timing["reused"] == len(finished) and again.timing["trained"] == len(arms) * len(seeds) - len(finished)


def test_a_model_saved_for_reuse_is_written_whole(tokenizer):
    model = build_model(STUDENT_SIZE, tokenizer, seed=0)
    sha = reuse.save_student(model, tokenizer, PROFILE, "k" * 64)
    folder = reuse.student_folder(PROFILE, "k" * 64)
    assert (folder / "model.safetensors").is_file() and not [p for p in folder.parent.iterdir() if p.name.startswith(".")]
    record = replace(small_record(), key="k" * 64, weights_sha256=sha)
    assert state_sha256(reuse.load_student(record, PROFILE)) == state_sha256(model)
    assert reuse.load_student(replace(record, weights_sha256="0" * 64), PROFILE) is None


def small_record():
    from helpers import record

    return record(records.TRACES, "traces", 0.5)


def test_the_data_hash_reads_content_not_identity():
    tokenizer = build_tokenizer()
    assert reuse.data_sha256(traces(tokenizer)) == reuse.data_sha256(traces(tokenizer))
    assert reuse.data_sha256(traces(tokenizer)) != reuse.data_sha256(traces(tokenizer, seed=1))


class InlinePool:
    """A stand-in for the worker pool that runs each task as it is submitted, so a test can see
    what was already finished (in the ledger) when each run was handed out."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger, self.handed_out = ledger, []

    def submit(self, task, function, *args):
        from concurrent.futures import Future

        name, seed = args[1], args[3]
        self.handed_out.append((name, seed, {(r.arm, r.seed) for r in self.ledger.entries() if r.seed >= 4}))
        future = Future()
        future.set_result(function(*args, on_step=lambda step, loss: None))
        return future

    def reports(self):
        return []

    def interrupt(self):
        pass


def test_with_workers_the_first_seed_trains_alone_and_the_rest_after_it(tokenizer, monkeypatch):
    from distillab import students

    ledger = Ledger(PROFILE)
    pool = InlinePool(ledger)
    monkeypatch.setattr(students.worker_pool, "pool", lambda count: pool)
    arms = {"traces": Arm(records.TRACES, traces(tokenizer)), "more traces": Arm(records.TRACES, traces(tokenizer, seed=1))}
    compare(replace(small_setup(tokenizer), profile=replace(PROFILE, seeds=(4, 5, 6))), arms, ledger=ledger, workers=2)
    assert [(name, seed) for name, seed, _ in pool.handed_out[:2]] == [("traces", 4), ("more traces", 4)]
    assert all(seen == set() for _, _, seen in pool.handed_out[:2])  # seed 4's two runs together, first
    assert len(pool.handed_out) == 6
    assert all(seen == {("traces", 4), ("more traces", 4)} for _, _, seen in pool.handed_out[2:])  # the rest once both are done


def test_the_matmul_peak_is_measured_once_per_machine(monkeypatch):
    from distillab import cost

    measured = []
    monkeypatch.setattr(cost, "measure_matmul_peak_gflops", lambda seconds=1.0: measured.append(1) or 100.0 + len(measured))
    assert reuse.matmul_peak_gflops() == 101.0  # the first time on this machine: measured
    assert reuse.matmul_peak_gflops() == 101.0 and len(measured) == 1  # read back, whatever the profile
    assert reuse.matmul_peak_gflops(refresh=True) == 102.0 and reuse.matmul_peak_gflops() == 102.0  # measured again, kept
    monkeypatch.setattr(reuse, "machine", lambda: {"processor": "another one"})
    assert reuse.matmul_peak_gflops() == 103.0  # another machine: measured there


UNGUARDED_SCRIPT = '''
from dataclasses import replace
from distillab import records, world
from distillab.profiles import get_profile
from distillab.records import TeacherRef
from distillab.students import Arm, Setup, compare
from distillab.tokenizer import build_tokenizer
from distillab.training import TrainingConfig, TrainingSet
from distillab.workspace import HALF_BUDGET_TEACHER

tokenizer = build_tokenizer()
setup = Setup(chapter="02", profile=replace(get_profile("fast"), seeds=(0, 1)), teacher=None, tokenizer=tokenizer,
              teacher_ref=TeacherRef.of(HALF_BUDGET_TEACHER, "half-budget"),
              held_out={1: world.sample_problems(4, 1, seed=9)}, training=TrainingConfig(2, 4, warmup_steps=0))
data = TrainingSet.from_problems({1: world.sample_problems(8, 1, seed=0)}, tokenizer)
compare(setup, {"SFT": Arm(records.TRACES, data)}, workers=2)
'''


def test_a_script_without_a_main_guard_is_told_why_its_workers_died(tmp_path):
    script = tmp_path / "my_experiment.py"
    script.write_text(UNGUARDED_SCRIPT)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=600,
                          env={**os.environ, "DISTILLAB_HOME": str(tmp_path / "home")})
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert f"{script} starts a comparison at its top level" in last and 'if __name__ == "__main__":' in last, done.stderr
    assert "workers=1" in last and "out of memory" not in done.stderr and done.stderr.count("Traceback") == 1
