"""Chapter 02's experiments, as functions the notebook calls and a command that measures the sweeps.

Every comparison holds the student (size, initialisation seed, optimizer steps, batch) and the
transfer set (the same prompts with the same teacher-written completions) fixed and changes one
thing: how the student learns from the teacher. Each arm runs on the same seeds as SFT, its baseline.

    python -m distillab.kd_experiments        # the sweeps at the standard profile (about 35 min on 2 cores)

writes `reference/kd_sweeps.json`, which chapter 02 reads and plots.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from distillab import world
from distillab.distillation import (DistillationConfig, TeacherCache, TransferSet, cache_teacher, kd_objective,
                                    transfer_set)
from distillab.ledger import Ledger
from distillab.models import STUDENT_SIZE, build_model, load_model
from distillab.profiles import Profile, get_profile
from distillab.students import VERDICTS, StudentRun, run_arms, run_to_dict, summarise, verdict
from distillab.sweeps import load_stored, sweep_command
from distillab.training import sft_objective, train
from distillab.workspace import HALF_BUDGET_TEACHER, REFERENCE_DIR, REFERENCE_TEACHER

TRANSFER_SEED = 1  # the transfer set's prompts: training-split problems, never a held-out one
SFT = "SFT"
SWEEPS_PATH = REFERENCE_DIR / "kd_sweeps.json"


@dataclass
class KDSetup:
    """A teacher, the transfer set it wrote, the held-out test set and the budget."""
    teacher_name: str
    teacher: object
    tokenizer: object
    transfer: TransferSet
    held_out: dict[int, list[world.Problem]]
    profile: Profile
    caches: dict = field(default_factory=dict)  # top_k (None: full) -> TeacherCache

    def cache(self, top_k: int | None = None) -> TeacherCache:
        """The teacher's log-probs on the transfer set, computed once per top_k."""
        if top_k not in self.caches:
            self.caches[top_k] = cache_teacher(self.teacher, self.transfer.data, top_k)
        return self.caches[top_k]


def prepare(teacher_dir: Path, teacher_name: str, profile: Profile | None = None,
            num_prompts: int | None = None) -> KDSetup:
    """Load the teacher and have it answer `num_prompts` training prompts (default: the profile's),
    an equal share per difficulty."""
    profile = profile or get_profile()
    num_prompts = profile.transfer_prompts if num_prompts is None else num_prompts
    if num_prompts < len(world.DIFFICULTIES):
        raise ValueError(f"num_prompts must be at least {len(world.DIFFICULTIES)} (one per difficulty), got {num_prompts}")
    teacher, tokenizer, _ = load_model(teacher_dir)
    held_out = world.held_out_problems(profile.eval_per_difficulty)
    problems = world.training_problems(num_prompts // len(world.DIFFICULTIES), TRANSFER_SEED, held_out)
    return KDSetup(teacher_name, teacher, tokenizer, transfer_set(teacher, tokenizer, problems), held_out, profile)


def compare(setup: KDSetup, configs: dict[str, DistillationConfig], seeds: tuple[int, ...] | None = None,
            ledger: Ledger | None = None, include_sft: bool = True) -> dict[str, list[StudentRun]]:
    """SFT on the teacher's text and each KD config, every arm on every seed, same steps."""
    seeds = setup.profile.seeds if seeds is None else seeds
    arms = {SFT: (setup.transfer.data, sft_objective)} if include_sft else {}
    for name, config in configs.items():
        arms[name] = (setup.cache(config.top_k).data, kd_objective(config))
    extra = {"teacher": setup.teacher_name, "transfer_prompts": setup.transfer.num_prompts,
             "teacher_generation_flops": setup.transfer.generation_flops,
             "teacher_cache_flops": setup.cache().flops}
    return run_arms(arms, list(seeds), setup.tokenizer, setup.held_out, setup.profile.student_config(),
                    ledger=ledger, profile=setup.profile.name, extra=extra)


def step_cost(setup: KDSetup, config: DistillationConfig | None = None, num_steps: int = 20) -> dict[str, float]:
    """Seconds per student step on the transfer set: SFT, KD reading the cache, KD running the
    teacher on the fly (same student initialisation, same batches)."""
    config = config or DistillationConfig()
    seconds = {}
    for name, data, objective in [("SFT", setup.transfer.data, sft_objective),
                                  ("KD, cached teacher", setup.cache().data, kd_objective(config)),
                                  ("KD, teacher on the fly", setup.transfer.data, kd_objective(config, setup.teacher))]:
        student = build_model(STUDENT_SIZE, setup.tokenizer, seed=0)
        history = train(student, data, setup.profile.student_config(num_steps=num_steps), objective, progress=False)
        seconds[name] = history.total_seconds / num_steps
    return seconds


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
        "top-k": {"k=1": DistillationConfig(loss="top_k", top_k=1), "k=5": DistillationConfig(loss="top_k", top_k=5), "k=20": DistillationConfig(loss="top_k", top_k=20), "all 67": base},
    }


def measure_sweeps(profile: Profile, n_values: tuple[int, ...] = (250, 1000, 4000),
                   step_values: tuple[int, ...] = (400,)) -> dict:
    """Every sweep at `profile` on its seeds: the knobs on the half-budget teacher at the profile's N,
    KD vs SFT at other N and with fewer optimizer steps, and KD vs SFT with the fully trained teacher."""
    start = time.perf_counter()
    results: dict = {"profile": profile.name, "seeds": list(profile.seeds), "student_steps": profile.student_steps,
                     "batch_size": profile.batch_size, "transfer_prompts": profile.transfer_prompts, "sweeps": {}}
    setup = prepare(HALF_BUDGET_TEACHER, "half-budget", profile)
    results["cache_bytes_per_token"] = {"full": setup.cache().bytes_per_token,
                                        **{f"top-{k}": setup.cache(k).bytes_per_token for k in (1, 5, 20)}}
    unique = {}
    for configs in sweep_configs().values():
        for name, config in configs.items():
            unique.setdefault(config, (name, config))
    runs = compare(setup, {name: config for name, config in unique.values()})
    for sweep, configs in sweep_configs().items():
        results["sweeps"][sweep] = {SFT: [run_to_dict(r) for r in runs[SFT]]}
        for name, config in configs.items():
            first = unique[config][0]
            results["sweeps"][sweep][name] = [run_to_dict(r) for r in runs[first]]
    results["sweeps"]["N"] = {}
    for n in (*n_values, profile.transfer_prompts):
        if n == profile.transfer_prompts:
            by_n = {SFT: runs[SFT], "KD": runs["T=1"]}
        else:
            by_n = compare(prepare(HALF_BUDGET_TEACHER, "half-budget", profile, n), {"KD": DistillationConfig()})
        results["sweeps"]["N"][str(n)] = {arm: [run_to_dict(r) for r in rs] for arm, rs in by_n.items()}
    results["sweeps"]["steps"] = {str(profile.student_steps): results["sweeps"]["N"][str(profile.transfer_prompts)]}
    for steps in step_values:
        shorter = replace(setup, profile=replace(profile, student_steps=steps))
        results["sweeps"]["steps"][str(steps)] = {
            arm: [run_to_dict(r) for r in rs] for arm, rs in compare(shorter, {"KD": DistillationConfig()}).items()}
    full = compare(prepare(REFERENCE_TEACHER, "fully trained", profile), {"KD": DistillationConfig()})
    results["sweeps"]["teacher"] = {
        "half-budget": {SFT: results["sweeps"]["N"][str(profile.transfer_prompts)][SFT],
                        "KD": results["sweeps"]["N"][str(profile.transfer_prompts)]["KD"]},
        "fully trained": {arm: [run_to_dict(r) for r in rs] for arm, rs in full.items()}}
    results["seconds"] = time.perf_counter() - start
    return results


PAIRED_SWEEPS = ("N", "steps", "teacher")  # keyed by a setting, each holding its own SFT and KD


def verdicts(sweeps: dict) -> dict[str, list[str]]:
    """Every arm of every sweep against its SFT baseline, sorted by what holds on *every* seed:
    better, the same (identical accuracy), worse, or not settled. An arm whose runs already
    appeared under another sweep is listed once, under the first."""
    out: dict[str, list[str]] = {name: [] for name in VERDICTS}
    seen = set()
    for sweep, arms in sweeps["sweeps"].items():
        if sweep in PAIRED_SWEEPS:
            pairs = [(f"{sweep} = {key}: KD", {SFT: both[SFT], "KD": both["KD"]}) for key, both in arms.items()]
        else:
            pairs = [(f"{sweep}: {name}", {SFT: arms[SFT], name: runs}) for name, runs in arms.items() if name != SFT]
        for label, pair in pairs:
            runs = list(pair.values())[-1]
            key = tuple((r["seed"], r["mean_accuracy"], r["flops"]) for r in runs)
            if key in seen:
                continue
            seen.add(key)
            row = summarise(pair)[-1]
            out[verdict(row["gain min"], row["gain max"])].append(
                f"{label}: {row['gain over SFT (points)']:+.1f} points "
                f"(seeds from {row['gain min']:+.1f} to {row['gain max']:+.1f})")
    return out


def load_sweeps(path: Path = SWEEPS_PATH) -> dict:
    return load_stored(path, "python -m distillab.kd_experiments")


def main(argv: list[str] | None = None) -> None:
    sweep_command("Measure chapter 02's sweeps and store them.", measure_sweeps, SWEEPS_PATH, argv)


if __name__ == "__main__":
    main()
