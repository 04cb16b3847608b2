"""Chapter 04's experiments: on-policy distillation on top of a trace-SFT student.

Every seed first trains chapter 03's student (SFT on the teacher's filtered traces, the warm
start). Each arm then continues that same student with the same *added* compute, counted in
FLOPs: more SFT on the traces, or on-policy distillation (λ, β, sampling temperature). An
on-policy step costs about 3 SFT steps, so at equal compute it gets about a third of the steps;
one arm also gives it as many steps as SFT (3× the compute), to separate "worse per FLOP" from
"worse per step". A last arm skips SFT: on-policy from an untrained student, with the compute of
the whole SFT recipe (warm start and added steps).

    python -m distillab.onpolicy_experiments    # every comparison at the standard profile (~9 min on 2 cores)

writes `reference/onpolicy_sweeps.json`, which chapter 04 reads and plots.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from tqdm.auto import tqdm

from distillab import trace_experiments as te
from distillab.evaluation import evaluate
from distillab.ledger import Ledger, LedgerEntry
from distillab.models import STUDENT_SIZE, build_model, count_parameters
from distillab.onpolicy import OnPolicyConfig, distill_on_policy, step_cost_ratio
from distillab.profiles import Profile
from distillab.sampling import generate, max_new_tokens
from distillab.students import StudentRun, paired_gain, run_from_dict, run_to_dict, train_student
from distillab.sweeps import load_stored, sweep_command
from distillab.training import TrainingConfig, TrainingSet, train
from distillab.workspace import REFERENCE_DIR, REFERENCE_TEACHER

WARM_START, MORE_SFT = "warm start (trace SFT)", "more SFT"
FROM_SCRATCH = "on-policy from scratch (no SFT)"
ADDED_LEARNING_RATE = 3e-4  # continuing a trained student: a tenth of the from-scratch peak (1e-3 did worse for SFT and on-policy)
SWEEPS_PATH = REFERENCE_DIR / "onpolicy_sweeps.json"


def on_policy_arm(config: OnPolicyConfig) -> str:
    return config.describe()


@dataclass
class OnPolicySetup:
    """Chapter 03's setup (teacher, prompts, filtered traces, test set) and the trace-SFT students."""
    traces: te.TraceSetup
    data: TrainingSet  # the filtered teacher traces: the warm start's data and the off-policy batches
    warm: dict[int, StudentRun]  # seed -> the trace-SFT student every arm continues
    teacher_generation_flops: float  # what writing the traces cost
    reused: tuple[int, ...] = ()  # seeds whose warm start chapter 03 had saved (not trained again)

    @property
    def profile(self) -> Profile:
        return self.traces.profile


def prepare(teacher_dir: Path, teacher_name: str, profile: Profile, seeds: tuple[int, ...] | None = None,
            ledger: Ledger | None = None) -> OnPolicySetup:
    """Chapter 03's recipe (its prompts, the teacher's traces at T = 1, the verifier) and one
    trace-SFT student per seed: the one chapter 03 saved, if it was made by exactly this recipe,
    else trained here, recorded in the ledger as chapter 04's warm start, and saved."""
    setup = te.prepare(teacher_dir, teacher_name, profile)
    samples = setup.traces()
    data = samples.training_set(setup.tokenizer)
    made_by = te.recipe(setup)
    warm, reused = {}, []
    for seed in profile.seeds if seeds is None else seeds:
        saved = te.load_student(setup, seed, made_by)
        if saved is not None:
            warm[seed] = saved
            reused.append(seed)
            continue
        warm[seed] = train_student(WARM_START, data, setup.tokenizer, setup.held_out,
                                   replace(te.student_config(profile), seed=seed), ledger=ledger, profile=profile.name,
                                   extra={"teacher": teacher_name, "chapter": "04",
                                          "teacher_generation_flops": samples.flops})
        te.save_students([warm[seed]], setup, made_by)
    return OnPolicySetup(setup, data, warm, samples.flops, tuple(reused))


def added_config(profile: Profile, num_steps: int, seed: int) -> TrainingConfig:
    """Continued training: a fresh AdamW, 10 % warmup, cosine to 0 at `num_steps`, a low peak rate."""
    return TrainingConfig(num_steps=num_steps, batch_size=profile.batch_size, learning_rate=ADDED_LEARNING_RATE,
                          warmup_steps=max(1, num_steps // 10), seed=seed, mix=te.TRACE_MIX)


def equal_compute_steps(setup: OnPolicySetup, config: OnPolicyConfig, sft_steps: int) -> int:
    """On-policy steps that cost about as much as `sft_steps` SFT steps (by the rules of thumb)."""
    student = next(iter(setup.warm.values())).model
    return max(2, round(sft_steps / step_cost_ratio(student, setup.traces.teacher, config.lmbda)))


def continue_student(setup: OnPolicySetup, seed: int, arm: str, config: OnPolicyConfig | None, num_steps: int,
                     ledger: Ledger | None = None) -> StudentRun:
    """A copy of seed's warm-start student, trained `num_steps` more: SFT on the traces
    (`config=None`) or on-policy with `config`; evaluated, and recorded with its warm start's FLOPs."""
    warm = setup.warm[seed]
    return _train_student(setup, arm, copy.deepcopy(warm.model), config,
                          added_config(setup.profile, num_steps, seed), warm.flops, ledger)


def on_policy_from_scratch(setup: OnPolicySetup, seed: int, num_steps: int, ledger: Ledger | None = None) -> StudentRun:
    """A new, untrained student (initialised with `seed`) trained on-policy only, with the schedule
    and learning rate of a student trained from scratch: the student writes garbage at first, and
    the teacher grades it."""
    student = build_model(STUDENT_SIZE, setup.traces.tokenizer, seed=seed)
    training = replace(te.student_config(setup.profile), num_steps=num_steps, seed=seed,
                       warmup_steps=min(setup.profile.warmup_steps, num_steps // 4))
    return _train_student(setup, FROM_SCRATCH, student, OnPolicyConfig(), training, 0.0, ledger)


def _train_student(setup: OnPolicySetup, arm: str, student: torch.nn.Module, config: OnPolicyConfig | None,
                   training: TrainingConfig, warm_start_flops: float, ledger: Ledger | None) -> StudentRun:
    extra = {"teacher": setup.traces.teacher_name, "chapter": "04", "warm_start_flops": warm_start_flops,
             "teacher_generation_flops": setup.teacher_generation_flops, "added_steps": training.num_steps,
             "on_policy_batches": 0}
    if config is None:
        history = train(student, setup.data, training, progress=False, description=arm)
    else:
        run = distill_on_policy(student, setup.traces.teacher, setup.data, setup.traces.tokenizer, config, training,
                                progress=False, description=arm)
        history = run.history
        extra.update(lmbda=config.lmbda, beta=config.beta, sampling_temperature=config.temperature,
                     on_policy_batches=run.on_policy_batches, student_generation_flops=run.generation_flops,
                     student_generation_seconds=run.generation_seconds, teacher_scoring_flops=run.teacher_scoring_flops,
                     teacher_scoring_seconds=run.teacher_scoring_seconds)
    evaluation = evaluate(student, setup.traces.tokenizer, setup.traces.held_out)
    if ledger is not None:
        ledger.record(LedgerEntry(kind=arm, model_size=STUDENT_SIZE, parameters=count_parameters(student),
                                  data_size=len(setup.data), steps=training.num_steps, flops=history.total_flops,
                                  seconds=history.total_seconds, accuracy=evaluation.accuracy, seed=training.seed,
                                  profile=setup.profile.name, extra={"eval_generation_flops": evaluation.flops, **extra}))
    return StudentRun(arm, training.seed, evaluation.accuracy, history.total_flops, history.total_seconds,
                      training.num_steps, len(setup.data), history, student)


def compare(setup: OnPolicySetup, configs: dict[str, OnPolicyConfig | None], sft_steps: int,
            ledger: Ledger | None = None, equal_steps: tuple[str, ...] = ()) -> dict[str, list[StudentRun]]:
    """Each arm on every warm-start seed, at the added compute of `sft_steps` SFT steps (an
    on-policy arm gets fewer, costlier steps), or at `sft_steps` steps for the arms in `equal_steps`."""
    results: dict[str, list[StudentRun]] = {arm: [] for arm in configs}
    jobs = [(arm, seed) for seed in setup.warm for arm in configs]
    for arm, seed in tqdm(jobs, desc="students"):
        config = configs[arm]
        steps = sft_steps if config is None or arm in equal_steps else equal_compute_steps(setup, config, sft_steps)
        results[arm].append(continue_student(setup, seed, arm, config, steps, ledger))
    return results


def sweep_configs() -> dict[str, OnPolicyConfig | None]:
    """The stored comparison's arms: more SFT, on-policy as Qwen3 and GKD run it, and one knob each."""
    return {MORE_SFT: None, "on-policy (reverse KL)": OnPolicyConfig(), "mix λ=0.5": OnPolicyConfig(lmbda=0.5),
            "off-policy KD (λ=0)": OnPolicyConfig(lmbda=0.0), "on-policy, forward KL (β=0)": OnPolicyConfig(beta=0.0),
            "on-policy, JSD β=0.5": OnPolicyConfig(beta=0.5), "on-policy, T=0.5": OnPolicyConfig(temperature=0.5)}


EQUAL_STEPS_ARM = "on-policy (reverse KL), as many steps as SFT"


def measure_sweeps(profile: Profile) -> dict:
    """Chapter 04's comparisons at `profile`, on its seeds, with the reference teacher."""
    start = time.perf_counter()
    setup = prepare(REFERENCE_TEACHER, "reference", profile)
    sft_steps = profile.onpolicy_added_steps
    runs = compare(setup, sweep_configs(), sft_steps)
    runs[EQUAL_STEPS_ARM] = compare(setup, {EQUAL_STEPS_ARM: OnPolicyConfig()}, sft_steps,
                                    equal_steps=(EQUAL_STEPS_ARM,))[EQUAL_STEPS_ARM]
    rows = {arm: [run_to_dict(r) for r in rs] for arm, rs in runs.items()}
    # From scratch, on-policy only, with the compute of the whole SFT recipe (warm start + added):
    scratch_steps = equal_compute_steps(setup, OnPolicyConfig(), profile.trace_student_steps + sft_steps)
    scratch = [on_policy_from_scratch(setup, seed, scratch_steps) for seed in setup.warm]
    return {"from_scratch": [run_to_dict(r) for r in scratch],
            "from_scratch_writes": [{"seed": run.seed, **sample} for run in scratch
                                    for sample in greedy_samples(run.model, setup.traces.tokenizer, setup.traces.held_out)],"profile": profile.name, "seeds": list(profile.seeds), "warm_start_steps": profile.trace_student_steps,
            "added_sft_steps": sft_steps, "learning_rate": ADDED_LEARNING_RATE, "batch_size": profile.batch_size,
            "warm": [run_to_dict(r) for r in setup.warm.values()], "arms": rows,
            "step_cost_ratio": {arm: step_cost_ratio(setup.warm[profile.seeds[0]].model, setup.traces.teacher, c.lmbda)
                                for arm, c in sweep_configs().items() if c is not None},
            "threads": torch.get_num_threads(), "seconds": time.perf_counter() - start}


def greedy_samples(model: torch.nn.Module, tokenizer, held_out: dict, difficulties: tuple[int, ...] = (1, 3, 5),
                   per_difficulty: int = 2) -> list[dict]:
    """What a student writes (greedy) for the first few held-out problems of some difficulties."""
    out = []
    for difficulty in difficulties:
        problems = held_out[difficulty][:per_difficulty]
        texts = generate(model, tokenizer, [p.prompt for p in problems], max_new_tokens(difficulty)).texts
        out += [{"difficulty": difficulty, "prompt": p.prompt, "answer": p.answer, "completion": text}
                for p, text in zip(problems, texts)]
    return out


def comparisons(sweeps: dict) -> list[dict]:
    """Every arm against more SFT at equal added compute, and against its warm start, seed by seed."""
    warm = [run_from_dict(r) for r in sweeps["warm"]]
    baseline = [run_from_dict(r) for r in sweeps["arms"][MORE_SFT]]
    rows = []
    for arm, arm_rows in sweeps["arms"].items():
        runs = [run_from_dict(r) for r in arm_rows]
        over_warm = paired_gain(warm, runs)
        row = {"arm": arm, "added steps": runs[0].steps,
               "added FLOPs": sum(r.flops for r in runs) / len(runs),
               "mean accuracy (%)": 100 * sum(r.mean_accuracy for r in runs) / len(runs),
               "gain over warm start": over_warm.mean, "over warm: verdict": over_warm.verdict}
        if arm != MORE_SFT:
            gain = paired_gain(baseline, runs)
            row.update({"gain over more SFT": gain.mean, "gain min": gain.low, "gain max": gain.high,
                        "verdict": gain.verdict})
        rows.append(row)
    return rows


def from_scratch_comparison(sweeps: dict) -> dict:
    """On-policy from an untrained student against the SFT recipe (warm start + more SFT) that used
    about the same total compute, seed by seed, and against the warm start alone."""
    scratch = [run_from_dict(r) for r in sweeps["from_scratch"]]
    sft = [run_from_dict(r) for r in sweeps["arms"][MORE_SFT]]
    warm_flops = {r["seed"]: r["flops"] for r in sweeps["warm"]}
    return {"from scratch": scratch, "SFT recipe": sft,
            "gain over the SFT recipe": paired_gain(sft, scratch),
            "gain over the warm start": paired_gain([run_from_dict(r) for r in sweeps["warm"]], scratch),
            "FLOPs ratio": sum(r.flops for r in scratch) / sum(r.flops + warm_flops[r.seed] for r in sft)}


def load_sweeps(path: Path = SWEEPS_PATH) -> dict:
    return load_stored(path, "python -m distillab.onpolicy_experiments")


def main(argv: list[str] | None = None) -> None:
    sweep_command("Measure chapter 04's comparisons and store them.", measure_sweeps, SWEEPS_PATH, argv)


if __name__ == "__main__":
    main()
