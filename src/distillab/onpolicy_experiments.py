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

import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from transformers import PreTrainedTokenizerFast

from distillab import knobs, records, world
from distillab import trace_experiments
from distillab.ledger import Ledger
from distillab.onpolicy import OnPolicyConfig, step_flops_ratio, token_disagreement
from distillab.profiles import Profile
from distillab.sampling import generate, max_new_tokens_for
from distillab.comparison import Comparison, PairedGain, Question, StudentRun, mean_of, paired_gain
from distillab.students import Arm, Setup, check_seeds, compare, train_student
from distillab.stored_sweeps import Stored, read, sweep_command
from distillab.training import TrainingConfig, TrainingSet
from distillab.workspace import REFERENCE_DIR, REFERENCE_TEACHER

# The arms: the student every arm continues, more SFT on the same traces, on-policy distillation
# (the chapter's knobs), the same with as many steps as SFT, and on-policy from an untrained student.
WARM_START, MORE_SFT, ON_POLICY = "warm start (trace SFT)", "more SFT", "on-policy"
EQUAL_STEPS, FROM_SCRATCH = "on-policy, as many steps as SFT", "on-policy from scratch (no SFT)"
ADDED_LEARNING_RATE = 3e-4  # continuing a trained student: a tenth of the from-scratch peak (1e-3 did worse for SFT and on-policy)
SWEEPS_PATH = REFERENCE_DIR / "onpolicy_sweeps.json"
COMMAND = "python -m distillab.onpolicy_experiments"


@dataclass(kw_only=True)
class OnPolicySetup(Setup):
    """Chapter 03's teacher and test set, its filtered-trace arm and its trace-SFT students."""
    traces_arm: Arm  # chapter 03's recipe: the warm start's data, and the off-policy batches of every arm
    warm: dict[int, StudentRun] = field(default_factory=dict)  # seed -> the trace-SFT student every arm continues
    reused: tuple[int, ...] = ()  # seeds whose warm start chapter 03 had saved (not trained again)

    @property
    def data(self) -> TrainingSet:
        """The filtered teacher traces."""
        return self.traces_arm.data

    @property
    def teacher_data_flops(self) -> float:
        """What writing the traces cost the teacher: every arm that reads them pays it."""
        return self.traces_arm.teacher_data_flops


def prepare(teacher_dir: Path, teacher_name: str, profile: Profile, seeds: tuple[int, ...] | None = None,
            ledger: Ledger | None = None) -> OnPolicySetup:
    """Chapter 03's recipe (its prompts, the teacher's traces at T = 1, the verifier) and one
    trace-SFT student per seed: the one chapter 03 saved, if it was made by exactly this recipe,
    else trained here, recorded in the ledger as chapter 04's warm start, and saved."""
    traces = trace_experiments.prepare(teacher_dir, teacher_name, profile)
    setup = OnPolicySetup(**{**traces.shared(), "chapter": "04"},
                          traces_arm=trace_experiments.traces_arm(traces, traces.traces()))
    made_by = trace_experiments.made_by(traces)
    reused = []
    for seed in check_seeds(profile.seeds if seeds is None else seeds):
        setup.warm[seed] = trace_experiments.load_student(traces, seed, made_by)
        if setup.warm[seed] is not None:
            reused.append(seed)
            continue
        setup.warm[seed] = train_student(setup, WARM_START, setup.traces_arm, seed, ledger)
        trace_experiments.save_students([setup.warm[seed]], traces, made_by)
    setup.reused = tuple(reused)
    return setup


def added_config(profile: Profile, num_steps: int) -> TrainingConfig:
    """Continued training: a fresh AdamW, 10 % warmup, cosine to 0 at `num_steps`, a low peak rate."""
    return TrainingConfig(num_steps=num_steps, batch_size=profile.batch_size, learning_rate=ADDED_LEARNING_RATE,
                          warmup_steps=max(1, num_steps // 10), mix=trace_experiments.TRACE_MIX)


def equal_compute_steps(setup: OnPolicySetup, config: OnPolicyConfig, sft_steps: int) -> int:
    """On-policy steps that cost about as much as `sft_steps` SFT steps (by the rules of thumb)."""
    knobs.whole_number("the added compute (ADDED_SFT_STEPS, in SFT steps)", sft_steps, 1)
    student = next(iter(setup.warm.values())).model
    return max(2, round(sft_steps / step_flops_ratio(student, setup.teacher, config.lmbda)))


def more_sft_arm(setup: OnPolicySetup, sft_steps: int) -> Arm:
    """Each warm start, `sft_steps` more SFT steps on the same filtered traces."""
    knobs.whole_number("the added compute (ADDED_SFT_STEPS, in SFT steps)", sft_steps, 1)
    return Arm(records.TRACES, setup.data, training=added_config(setup.profile, sft_steps), warm_start=setup.warm,
               teacher_data_flops=setup.teacher_data_flops, settings={"added_steps": sft_steps})


def on_policy_arm(setup: OnPolicySetup, config: OnPolicyConfig, sft_steps: int, equal_steps: bool = False) -> Arm:
    """Each warm start, on-policy distillation with `config` at the compute of `sft_steps` SFT steps
    (fewer, costlier steps), or with as many steps (`equal_steps`). With λ = 0 no batch is the
    student's: that is logit distillation on the teacher's traces, and filed as such."""
    steps = sft_steps if equal_steps else equal_compute_steps(setup, config, sft_steps)
    return Arm(records.ON_POLICY if config.lmbda > 0 else records.LOGITS, setup.data, on_policy=config,
               training=added_config(setup.profile, steps), warm_start=setup.warm,
               teacher_data_flops=setup.teacher_data_flops,
               settings={"lmbda": config.lmbda, "beta": config.beta, "temperature": config.temperature,
                         "added_steps": steps})


def from_scratch_arm(setup: OnPolicySetup, num_steps: int) -> Arm:
    """A new, untrained student trained on-policy only, with the schedule and learning rate of a
    student trained from scratch: the student writes garbage at first, and the teacher grades it.
    It reads the traces' prompts only, never their text."""
    training = replace(setup.training, num_steps=num_steps, warmup_steps=min(setup.profile.warmup_steps, num_steps // 4))
    return Arm(records.ON_POLICY, setup.data, on_policy=OnPolicyConfig(), training=training, settings={"steps": num_steps})


def headline_arms(setup: OnPolicySetup, config: OnPolicyConfig, sft_steps: int) -> dict[str, Arm]:
    """The chapter's headline: more SFT against on-policy with `config`, at equal added compute."""
    return {MORE_SFT: more_sft_arm(setup, sft_steps), ON_POLICY: on_policy_arm(setup, config, sft_steps)}


def sweep_configs() -> dict[str, OnPolicyConfig]:
    """The stored comparison's on-policy arms: as Qwen3 and GKD run it, and one knob changed each."""
    return {ON_POLICY: OnPolicyConfig(), "mix λ=0.5": OnPolicyConfig(lmbda=0.5),
            "off-policy KD (λ=0)": OnPolicyConfig(lmbda=0.0), "on-policy, forward KL (β=0)": OnPolicyConfig(beta=0.0),
            "on-policy, JSD β=0.5": OnPolicyConfig(beta=0.5), "on-policy, T=0.5": OnPolicyConfig(temperature=0.5)}


def measure_sweeps(profile: Profile) -> dict:
    """Chapter 04's comparisons at `profile`, on its seeds, with the reference teacher."""
    start = time.perf_counter()
    setup = prepare(REFERENCE_TEACHER, "the reference", profile)
    sft_steps = profile.onpolicy_added_steps
    added = compare(setup, {MORE_SFT: more_sft_arm(setup, sft_steps),
                            **{name: on_policy_arm(setup, config, sft_steps) for name, config in sweep_configs().items()},
                            EQUAL_STEPS: on_policy_arm(setup, OnPolicyConfig(), sft_steps, equal_steps=True)})
    # From scratch, on-policy only, with the compute of the whole SFT recipe (warm start + added):
    scratch_steps = equal_compute_steps(setup, OnPolicyConfig(), profile.trace_student_steps + sft_steps)
    scratch = compare(setup, {FROM_SCRATCH: from_scratch_arm(setup, scratch_steps)})
    student = setup.warm[profile.seeds[0]].model
    return {"profile": profile.name, "seeds": list(profile.seeds), "warm_start_steps": profile.trace_student_steps,
            "added_sft_steps": sft_steps, "learning_rate": ADDED_LEARNING_RATE, "batch_size": profile.batch_size,
            "comparisons": {"warm start": Comparison({WARM_START: list(setup.warm.values())}), "added compute": added,
                            "from scratch": scratch},
            "from_scratch_writes": [{"seed": run.seed, **sample} for run in scratch[FROM_SCRATCH]
                                    for sample in greedy_samples(run.model, setup.tokenizer, setup.held_out)],
            "step_flops_ratio": {name: step_flops_ratio(student, setup.teacher, config.lmbda)
                                for name, config in sweep_configs().items()},
            "threads": torch.get_num_threads(), "seconds": time.perf_counter() - start}


def greedy_samples(model: torch.nn.Module, tokenizer, held_out: dict, difficulties: tuple[int, ...] = (1, 3, 5),
                   per_difficulty: int = 2) -> list[dict]:
    """What a student writes (greedy) for the first few held-out problems of some difficulties."""
    out = []
    for difficulty in difficulties:
        problems = held_out[difficulty][:per_difficulty]
        texts = generate(model, tokenizer, [p.prompt for p in problems], max_new_tokens_for(difficulty)).texts
        out += [{"difficulty": difficulty, "prompt": p.prompt, "answer": p.answer, "completion": text}
                for p, text in zip(problems, texts)]
    return out


def with_warm_start(setup: OnPolicySetup, runs: Comparison) -> Comparison:
    """The warm start the arms of `runs` continued, on their seeds, first, then those arms: one
    comparison on the same seeds."""
    seeds = sorted(run.seed for run in next(iter(runs.values())))
    return Comparison({WARM_START: [setup.warm[seed] for seed in seeds], **runs})


def counted_step_flops_ratio(runs: Comparison, arm: str) -> float:
    """`arm`'s counted FLOPs per optimizer step over more SFT's (mean over seeds): what one step of
    it cost, in SFT steps, as counted rather than by the rule of thumb."""
    per_step = {name: mean_of(runs[name], lambda run: run.flops / run.steps) for name in (arm, MORE_SFT)}
    return per_step[arm] / per_step[MORE_SFT]


@dataclass(frozen=True)
class OnPolicyComparisons:
    warm_start: Comparison  # the trace-SFT students every arm continues
    added_compute: Comparison  # more SFT and each on-policy arm, with the same added FLOPs (one arm: as many steps)
    from_scratch: Comparison  # on-policy from an untrained student, with the whole SFT recipe's compute


@dataclass(frozen=True)
class Written:
    """What a student wrote (greedy) for one held-out problem."""
    seed: int
    difficulty: int
    prompt: str
    answer: int
    completion: str


@dataclass(frozen=True)
class OnPolicySweeps(Stored):
    """`reference/onpolicy_sweeps.json`, read (`load_sweeps`)."""
    warm_start_steps: int
    added_sft_steps: int
    learning_rate: float
    batch_size: int
    step_flops_ratio: dict[str, float]  # arm -> one step's FLOPs in SFT steps, by the rule of thumb
    threads: int
    comparisons: OnPolicyComparisons
    from_scratch_writes: list[Written]

    def describe(self) -> str:
        return self.measured_with(f"{self.added_sft_steps} SFT steps of added compute")

    def written_by_seed(self, seed: int) -> list[Written]:
        """What the from-scratch student of `seed` wrote."""
        return [written for written in self.from_scratch_writes if written.seed == seed]


def stored_comparison(sweeps: OnPolicySweeps) -> Comparison:
    """The stored warm start and every arm of added compute, as one comparison on the same seeds."""
    return Comparison({**sweeps.comparisons.warm_start, **sweeps.comparisons.added_compute})


def questions(sweeps: OnPolicySweeps) -> list[Question]:
    """Every arm of added compute against the warm start it continued, then every other arm against
    more SFT at equal added compute."""
    added = sweeps.comparisons.added_compute
    return ([Question("over the warm start", WARM_START, name) for name in added]
            + [Question("against more SFT", MORE_SFT, name) for name in added if name != MORE_SFT])


def question_rows(sweeps: OnPolicySweeps) -> list[dict]:
    """`questions` as the rows of a table: each arm against its baseline seed by seed, with the
    verdict that holds on *every* seed."""
    runs = stored_comparison(sweeps)
    return [question.row(runs) for question in questions(sweeps)]


DISAGREEMENT_FORMATS = {"reverse KL (nats)": ".3f"}


def disagreement_rows(student: torch.nn.Module, teacher: torch.nn.Module, tokenizer: PreTrainedTokenizerFast,
                      problem: world.Problem, completion: str) -> list[dict]:
    """The teacher's grading of one completion (`onpolicy.token_disagreement`) as a table's rows:
    each token the student wrote, the reverse KL at the position that wrote it, the token the
    teacher would have written, and a mark where the two differ (shown in `DISAGREEMENT_FORMATS`)."""
    graded = token_disagreement(student, teacher, tokenizer, problem.prompt, completion)
    return [{"token": token, "reverse KL (nats)": kl, "the teacher's choice": top,
             "": "<- disagrees" if top != token else ""} for token, kl, top in graded]


ARMS_TABLE_FORMATS = {"added FLOPs": ".3g"}


def arms_table(sweeps: OnPolicySweeps) -> list[dict]:
    """One row per arm of added compute: its added steps and FLOPs (mean over seeds), and its mean
    accuracy and range over seeds (shown in `ARMS_TABLE_FORMATS`)."""
    added = sweeps.comparisons.added_compute
    accuracy = {row["arm"]: row for row in added.table()}
    return [{"arm": name, "added steps": runs[0].steps, "added FLOPs": mean_of(runs, lambda run: run.flops),
             **{column: accuracy[name][column] for column in ("mean accuracy (%)", "min", "max")}}
            for name, runs in added.items()]


@dataclass(frozen=True)
class Findings:
    """What the stored comparison says about on-policy distillation at equal added compute, and
    with as many steps as SFT."""
    behind_on_every_seed: tuple[str, ...]  # the on-policy arms at equal compute behind more SFT on every seed
    best_lead: float  # the most any of them led more SFT by, on any seed (points)
    equal_steps_cost: float  # the added FLOPs of as many steps as SFT, over more SFT's
    equal_steps_over_warm: PairedGain
    equal_steps_against_sft: PairedGain


def findings(sweeps: OnPolicySweeps) -> Findings:
    """What the stored comparison says, seed by seed: the figures chapter 04's text rests on."""
    runs = stored_comparison(sweeps)
    equal_compute = [name for name in sweeps.comparisons.added_compute if name not in (MORE_SFT, EQUAL_STEPS)]
    against_sft = {name: runs.gain(MORE_SFT, name) for name in equal_compute}
    flops = {name: sum(r.flops for r in runs[name]) for name in (MORE_SFT, EQUAL_STEPS)}
    return Findings(behind_on_every_seed=tuple(name for name, gain in against_sft.items() if gain.max < 0),
                    best_lead=max(gain.max for gain in against_sft.values()),
                    equal_steps_cost=flops[EQUAL_STEPS] / flops[MORE_SFT],
                    equal_steps_over_warm=runs.gain(WARM_START, EQUAL_STEPS),
                    equal_steps_against_sft=runs.gain(MORE_SFT, EQUAL_STEPS))


@dataclass(frozen=True)
class FromScratch:
    """On-policy from an untrained student against the SFT recipe of about the same total compute."""
    from_scratch: list[StudentRun]
    sft_recipe: list[StudentRun]  # the warm start + more SFT (the more-SFT runs, whose seeds continue the warm start)
    gain_over_the_sft_recipe: PairedGain
    gain_over_the_warm_start: PairedGain
    flops_ratio: float  # from scratch's FLOPs over the whole SFT recipe's


def from_scratch_comparison(sweeps: OnPolicySweeps) -> FromScratch:
    """On-policy from an untrained student against the SFT recipe (warm start + more SFT) that used
    about the same total compute, seed by seed, and against the warm start alone."""
    scratch = sweeps.comparisons.from_scratch[FROM_SCRATCH]
    sft = sweeps.comparisons.added_compute[MORE_SFT]
    warm = sweeps.comparisons.warm_start[WARM_START]
    warm_flops = {run.seed: run.flops for run in warm}
    return FromScratch(from_scratch=scratch, sft_recipe=sft, gain_over_the_sft_recipe=paired_gain(sft, scratch),
                       gain_over_the_warm_start=paired_gain(warm, scratch),
                       flops_ratio=sum(r.flops for r in scratch) / sum(r.flops + warm_flops[r.seed] for r in sft))


def load_sweeps(path: Path = SWEEPS_PATH) -> OnPolicySweeps:
    return read(path, OnPolicySweeps, measure_sweeps, COMMAND)


def main(argv: list[str] | None = None) -> None:
    sweep_command("Measure chapter 04's comparisons and store them.", measure_sweeps, SWEEPS_PATH, argv)


if __name__ == "__main__":
    from distillab.runtime import run_command

    sys.exit(run_command(main, "distillab.onpolicy_experiments"))
