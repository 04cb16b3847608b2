"""Chapter 02's experiments, as functions the notebook calls and a command that measures the sweeps.

Every comparison holds the student (size, initialisation seed, optimizer steps, batch) and the
transfer set (the same prompts with the same teacher-written completions) fixed and changes one
thing: how the student learns from the teacher. Each arm runs on the same seeds as SFT, its baseline.

    python -m distillab.kd_experiments        # the sweeps at the standard profile (about 35 min on 2 cores)

writes `reference/kd_sweeps.json`, which chapter 02 reads and plots.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from transformers import PreTrainedTokenizerFast

from distillab import knobs, records, reuse, world
from distillab.distillation import (DistillationConfig, TeacherCache, TeacherLogProbs, TransferSet, answer_logits,
                                    answer_mass, cache_teacher, id_dtype, kd_objective, teacher_log_probs,
                                    transfer_set)
from distillab.models import STUDENT_SIZE, build_model, matmul_parameters, state_sha256
from distillab.runtime import machine
from distillab.tokenizer import fingerprint
from distillab.profiles import Profile
from distillab.claims import Claim
from distillab.comparison import Comparison, PairedGain, Question, table_by_setting
from distillab.students import Arm, Setup, compare, load_teacher
from distillab.stored_sweeps import Stored, field_name, read, sweep_command
from distillab.training import TrainingSet, sft_objective, train
from distillab.workspace import HALF_BUDGET_TEACHER, REFERENCE_DIR, REFERENCE_TEACHER

TRANSFER_SEED = 1  # the transfer set's prompts: training-split problems, never a held-out one
SFT, KD = "SFT", "KD"  # the headline's arms: the teacher's text alone, and its distributions on that text
SWEEPS_PATH = REFERENCE_DIR / "kd_sweeps.json"
COMMAND = "python -m distillab.kd_experiments"


@dataclass(kw_only=True)
class KDSetup(Setup):
    """Chapter 02's setup: a teacher, the transfer set it wrote, and its cached distributions."""
    transfer: TransferSet
    caches: dict = field(default_factory=dict)  # top_k (None: full) -> TeacherCache
    log_probs: TeacherLogProbs | None = None  # the teacher's one forward pass over the transfer set

    def cache(self, top_k: int | None = None) -> TeacherCache:
        """The teacher's log-probs on the transfer set, full or top-k, all cut from one forward pass."""
        if top_k not in self.caches:
            if self.log_probs is None:
                self.log_probs = teacher_log_probs(self.teacher, self.transfer.data)
            self.caches[top_k] = cache_teacher(self.teacher, self.transfer.data, top_k, log_probs=self.log_probs)
        return self.caches[top_k]


def prepare(teacher_dir: Path, teacher_name: str, profile: Profile, num_prompts: int | None = None,
            refresh: bool = False) -> KDSetup:
    """Load the teacher and have it answer `num_prompts` training prompts (default: the profile's),
    an equal share per difficulty (written once per teacher and prompts: `remembered_transfer_set`)."""
    num_prompts = profile.transfer_prompts if num_prompts is None else num_prompts
    knobs.whole_number("num_prompts", num_prompts, len(world.DIFFICULTIES))
    teacher, tokenizer, _, reference = load_teacher(teacher_dir, teacher_name)
    held_out = world.held_out_problems(profile.eval_per_difficulty)
    problems = world.training_problems(num_prompts // len(world.DIFFICULTIES), TRANSFER_SEED, held_out)
    return KDSetup(chapter="02", profile=profile, teacher=teacher, tokenizer=tokenizer, teacher_ref=reference,
                   held_out=held_out, training=profile.student_config(),
                   transfer=remembered_transfer_set(teacher, tokenizer, problems, profile, refresh))


def remembered_transfer_set(teacher: torch.nn.Module, tokenizer: PreTrainedTokenizerFast,
                            problems: dict[int, list[world.Problem]], profile: Profile,
                            refresh: bool = False) -> TransferSet:
    """`distillation.transfer_set`, written by the teacher once per teacher weights and prompts and
    read back after (`reuse.remembered_tensors`; `refresh` writes it again)."""

    def measure() -> tuple[dict, dict]:
        made = transfer_set(teacher, tokenizer, problems)
        return made.data.tensors(), {"num_prompts": made.num_prompts, "num_correct": made.num_correct,
                                     "teacher_data_flops": made.teacher_data_flops, "seconds": made.seconds}

    ingredients = {"teacher": state_sha256(teacher), "prompts": reuse.problems_sha256(problems),
                   "tokenizer": fingerprint(tokenizer)}
    tensors, facts = reuse.remembered_tensors(profile, "the teacher's transfer set", ingredients, measure, refresh)
    if "generation_flops" in facts:  # a set remembered before the teacher's data cost had its one name
        facts["teacher_data_flops"] = facts.pop("generation_flops")
    return TransferSet(TrainingSet.from_tensors(tensors, fingerprint(tokenizer)), **facts)


def sft_arm(setup: KDSetup) -> Arm:
    """SFT on the teacher's greedy text: trace distillation, the teacher's words only."""
    return Arm(records.TRACES, setup.transfer.data, teacher_data_flops=setup.transfer.teacher_data_flops,
               settings={"transfer_prompts": setup.transfer.num_prompts})


def kd_arm(setup: KDSetup, config: DistillationConfig) -> Arm:
    """Logit KD with `config` on the same text, the teacher's distributions read from its cache."""
    cache = setup.cache(config.top_k)
    return Arm(records.LOGITS, cache.data, kd_objective(config), teacher_data_flops=setup.transfer.teacher_data_flops + cache.flops,
               settings={"transfer_prompts": setup.transfer.num_prompts, "kd": config.describe()})


def headline_arms(setup: KDSetup, config: DistillationConfig = DistillationConfig()) -> dict[str, Arm]:
    """The chapter's headline: SFT against KD with `config`, on the same transfer set."""
    return {SFT: sft_arm(setup), KD: kd_arm(setup, config)}


@dataclass(frozen=True)
class StepSeconds:
    """Seconds per student step on the same transfer set and batches (`seconds_per_step`)."""
    sft: float
    kd_cached: float  # KD reading the teacher's cached logits
    kd_on_the_fly: float  # KD running the teacher at every step

    def by_name(self) -> dict[str, float]:
        return {"SFT": self.sft, "KD, cached teacher": self.kd_cached, "KD, teacher on the fly": self.kd_on_the_fly}

    def lines(self) -> list[str]:
        """A line per kind of step: its milliseconds, and how many SFT steps it costs."""
        return [f"{name:24} {1000 * seconds:5.0f} ms per step = {seconds / self.sft:.2f}x SFT"
                for name, seconds in self.by_name().items()]


def seconds_per_step(setup: KDSetup, config: DistillationConfig | None = None, num_steps: int = 20,
                     refresh: bool = False) -> StepSeconds:
    """Seconds per student step on the transfer set: SFT, KD reading the cache, KD running the
    teacher on the fly (same student initialisation, same batches). Timing only: nothing is recorded.
    Timed once per transfer set, teacher size, loss and machine (`reuse.remembered`): what a step's
    work depends on is the loss, its top-k and whether hard labels are mixed in (α < 1), not T,
    which only divides the logits; `refresh` times again."""
    config = config or DistillationConfig()
    training = setup.profile.student_config(num_steps=num_steps)

    def measure() -> dict[str, float]:
        seconds = {}
        for kind, data, objective in [("sft", setup.transfer.data, sft_objective),
                                      ("kd_cached", setup.cache(config.top_k).data, kd_objective(config)),
                                      ("kd_on_the_fly", setup.transfer.data, kd_objective(config, setup.teacher))]:
            student = build_model(STUDENT_SIZE, setup.tokenizer, seed=0)
            seconds[kind] = train(student, data, training, objective, progress=False).total_seconds / num_steps
        return seconds

    work = {"loss": config.loss, "top_k": config.top_k, "hard labels too": config.alpha < 1}
    ingredients = {"transfer set": reuse.data_sha256(setup.transfer.data), "step's work": work,
                   "teacher": matmul_parameters(setup.teacher), "budget": asdict(training), "student": STUDENT_SIZE,
                   "machine": machine(), "kept as": "StepSeconds"}
    return StepSeconds(**reuse.remembered(setup.profile, "seconds per student step", ingredients, measure, refresh))


DARK_KNOWLEDGE_FORMATS = {"right answer": ".4f", "right ± 1": ".4f", "everything else": ".4f"}


def dark_knowledge(teachers: dict[str, torch.nn.Module], tokenizer: PreTrainedTokenizerFast, profile: Profile,
                   temperatures: tuple[float, ...] = (1, 2, 4), refresh: bool = False) -> list[dict]:
    """Where each teacher puts the probability of the answer token over the held-out problems, at
    each temperature: on the right number, its neighbours (right ± 1), everything else. Rows of
    (teacher, T, the three shares; shown in `DARK_KNOWLEDGE_FORMATS`); measured once per teachers'
    weights and test set (`refresh`: again)."""
    problems = [p for level in world.held_out_problems(profile.eval_per_difficulty).values() for p in level]

    def measure() -> dict:
        rows = []
        for name, teacher in teachers.items():
            logits = answer_logits(teacher, tokenizer, problems)
            rows += [{"teacher": name, "T": t, **answer_mass(logits, problems, tokenizer, t)} for t in temperatures]
        return {"rows": rows}

    ingredients = {"teachers": {name: state_sha256(teacher) for name, teacher in teachers.items()},
                   "test set": reuse.problems_sha256(world.held_out_problems(profile.eval_per_difficulty)),
                   "tokenizer": fingerprint(tokenizer), "temperatures": list(temperatures)}
    return reuse.remembered(profile, "the teachers' answer distributions", ingredients, measure, refresh)["rows"]


def neighbour_ratios(rows: list[dict], vocab_size: int) -> tuple[float, float]:
    """What `dark_knowledge` says at T = 1: how many times more probability the half-budget teacher
    puts on the right answer's two neighbours than the fully trained one does, and how many times
    more the half-budget teacher puts on each neighbour than on each other token (every token but
    the right number and its two neighbours)."""
    mass = {(row["teacher"], row["T"]): row for row in rows}
    half, full = mass["half-budget", 1], mass["fully trained", 1]
    per_neighbour, per_other = half["right ± 1"] / 2, half["everything else"] / (vocab_size - 3)
    return half["right ± 1"] / full["right ± 1"], per_neighbour / per_other


def cache_table(setup: KDSetup, top_ks: tuple[int | None, ...] = (None, 20, 5, 1)) -> list[dict]:
    """What each cache of the teacher's log-probs on the transfer set takes (full, and the top-k
    for each k), and what it cost the teacher: every one is cut from the same forward pass."""
    vocab_size, rows = len(setup.tokenizer), []
    for k in top_ks:
        cache = setup.cache(k)
        ids = str(id_dtype(vocab_size)).removeprefix("torch.")
        rows.append({"cache": f"all {vocab_size} tokens (float16)" if k is None else f"top-{k} (float16 values, {ids} ids)",
                     "bytes per token": format(cache.bytes_per_token, ".0f"), "total": f"{cache.bytes / 1e6:.2f} MB",
                     "teacher data FLOPs": f"{cache.flops:.2e}", "seconds": f"{cache.seconds:.2f}"})
    return rows


def sweep_configs() -> dict[str, dict[str, DistillationConfig]]:
    """The knobs chapter 02 turns, one sweep each; every sweep shares the forward-KL T = 1 arm."""
    base = DistillationConfig()
    return {
        "temperature": {"T=1": base, "T=2": DistillationConfig(temperature=2.0),
                        "T=4": DistillationConfig(temperature=4.0),
                        "T=2, no T²": DistillationConfig(temperature=2.0, scale_by_t_squared=False)},
        "alpha": {"α=1": base, "α=0.5": DistillationConfig(alpha=0.5)},
        "loss": {"forward KL": base, "reverse KL": DistillationConfig(loss="reverse_kl"),
                 "JSD β=0.5": DistillationConfig(loss="jsd", beta=0.5)},
        "top-k": {"k=1": DistillationConfig(loss="top_k", top_k=1), "k=5": DistillationConfig(loss="top_k", top_k=5),
                  "k=20": DistillationConfig(loss="top_k", top_k=20), "full distribution": base},
    }


PAIRED_SWEEPS = ("N", "steps", "teacher")  # keyed by a setting, each setting a comparison of SFT and KD


def measure_sweeps(profile: Profile, n_values: tuple[int, ...] = (250, 1000, 4000),
                   step_values: tuple[int, ...] = (400,)) -> dict:
    """Every sweep at `profile` on its seeds: the knobs on the half-budget teacher at the profile's N,
    KD vs SFT at other N and with fewer optimizer steps, and KD vs SFT with the fully trained teacher."""
    start = time.perf_counter()
    setup = prepare(HALF_BUDGET_TEACHER, "half-budget", profile)
    results: dict = {"profile": profile.name, "seeds": list(profile.seeds), "student_steps": profile.student_steps,
                     "batch_size": profile.batch_size, "transfer_prompts": profile.transfer_prompts,
                     "cache_bytes_per_token": {"full": setup.cache().bytes_per_token,
                                               **{f"top-{k}": setup.cache(k).bytes_per_token for k in (1, 5, 20)}}}
    trained_as = {}  # a config shared by several sweeps (the forward-KL T = 1 arm) is trained once
    for configs in sweep_configs().values():
        for name, config in configs.items():
            trained_as.setdefault(config, name)
    runs = compare(setup, {SFT: sft_arm(setup), **{name: kd_arm(setup, config) for config, name in trained_as.items()}})
    comparisons: dict = {sweep: Comparison({SFT: runs[SFT], **{name: runs[trained_as[config]]
                                                               for name, config in configs.items()}})
                         for sweep, configs in sweep_configs().items()}
    headline = Comparison({SFT: runs[SFT], KD: runs[trained_as[DistillationConfig()]]})
    comparisons["N"] = {profile.transfer_prompts: headline}
    for n in n_values:
        other_n = prepare(HALF_BUDGET_TEACHER, "half-budget", profile, n)
        comparisons["N"][n] = compare(other_n, headline_arms(other_n))
    comparisons["steps"] = {profile.student_steps: headline}
    for steps in step_values:
        shorter = replace(setup, training=profile.student_config(num_steps=steps))
        comparisons["steps"][steps] = compare(shorter, headline_arms(shorter))
    full = prepare(REFERENCE_TEACHER, "fully trained", profile)
    comparisons["teacher"] = {"half-budget": headline, "fully trained": compare(full, headline_arms(full))}
    results["comparisons"] = comparisons
    results["seconds"] = time.perf_counter() - start
    return results


@dataclass(frozen=True)
class KDComparisons:
    """Chapter 02's stored comparisons: each knob's arms beside the same SFT runs, and SFT against
    KD at each transfer-set size N, number of steps and teacher."""
    temperature: Comparison
    alpha: Comparison
    loss: Comparison
    top_k: Comparison
    n: dict[int, Comparison]
    steps: dict[int, Comparison]
    teacher: dict[str, Comparison]


@dataclass(frozen=True)
class KDSweeps(Stored):
    """`reference/kd_sweeps.json`, read (`load_sweeps`)."""
    student_steps: int
    batch_size: int
    transfer_prompts: int
    cache_bytes_per_token: dict[str, float]  # "full", "top-1", "top-5", "top-20"
    comparisons: KDComparisons

    def describe(self) -> str:
        return self.measured_with(f"{self.student_steps} steps x {self.batch_size}, {self.transfer_prompts} prompts")

    def sweep(self, name: str) -> Comparison | dict:
        """The comparison of a knob of `sweep_configs` ("top-k"), or of PAIRED_SWEEPS by setting ("N")."""
        if name not in (*sweep_configs(), *PAIRED_SWEEPS):
            raise ValueError(f"no sweep {name!r}: chapter 02 stored {', '.join((*sweep_configs(), *PAIRED_SWEEPS))}")
        return getattr(self.comparisons, field_name(name))

    def headline_setting(self, name: str) -> int | str:
        """The setting of a paired sweep that the headline itself ran (its runs are the headline's)."""
        return {"N": self.transfer_prompts, "steps": self.student_steps, "teacher": "half-budget"}[name]


def questions(sweeps: KDSweeps) -> list[tuple[Comparison, Question]]:
    """Every arm of every stored sweep against its SFT baseline, with the comparison that answers
    it. The runs every sweep shares are asked about once: the forward-KL T = 1 arm under its first
    sweep only, and not again as the headline setting of N, steps and teacher."""
    asked, base_asked = [], False
    for sweep, configs in sweep_configs().items():
        node = sweeps.sweep(sweep)
        for arm in node:
            if arm == SFT:
                continue
            if configs.get(arm) == DistillationConfig():
                if base_asked:
                    continue
                base_asked = True
            asked.append((node, Question(sweep, SFT, arm)))
    for sweep in PAIRED_SWEEPS:
        asked += [(comparison, Question(f"{sweep} = {setting}", SFT, KD))
                  for setting, comparison in sweeps.sweep(sweep).items() if setting != sweeps.headline_setting(sweep)]
    return asked


def question_rows(sweeps: KDSweeps) -> list[dict]:
    """`questions` as the rows of a table: each arm against SFT seed by seed, with the verdict that
    holds on *every* seed."""
    return [question.row(runs) for runs, question in questions(sweeps)]


def sweep_table(sweeps: KDSweeps, sweep: str) -> list[dict]:
    """One stored sweep as table rows: each arm's mean and range over seeds and its gain over SFT.
    A sweep of N, steps or teacher gives one SFT-and-KD comparison per setting, the setting first."""
    node = sweeps.sweep(sweep)
    return table_by_setting(node, sweep) if sweep in PAIRED_SWEEPS else node.table()


# The headline's claim, asserted at the standard profile with the default knobs: KD ahead of SFT on
# every seed and by 5 points on average (the older rule; its 95 % lower bound is printed beside it).
HEADLINE_CLAIM = {"rule": "every seed", "margin": 0.0, "mean_margin": 5.0}


def headline_claim(gain: PairedGain) -> Claim:
    """Chapter 02's claim of its headline comparison (KD minus SFT, seed by seed)."""
    return Claim.of_gain("KD beats SFT", gain, **HEADLINE_CLAIM)


def stored_headline_claim(sweeps: KDSweeps) -> Claim:
    """The same claim as the stored sweeps measured it: the temperature sweep's default KD arm."""
    node = sweeps.comparisons.temperature
    default = next(arm for arm, config in sweep_configs()["temperature"].items() if config == DistillationConfig())
    return headline_claim(node.gain(SFT, default))


def load_sweeps(path: Path = SWEEPS_PATH) -> KDSweeps:
    return read(path, KDSweeps, measure_sweeps, COMMAND)


def main(argv: list[str] | None = None) -> None:
    sweep_command("Measure chapter 02's sweeps and store them.", measure_sweeps, SWEEPS_PATH, argv)


if __name__ == "__main__":
    from distillab.runtime import run_command

    sys.exit(run_command(main, "distillab.kd_experiments"))
