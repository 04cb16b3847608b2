"""Students: the unit of every experiment in chapters 02-07. An `Arm` is one recipe (what the
student learns from and how); `train_student` is the one path that trains, measures and records a
student; `compare` runs every arm on every seed ("same student size, same data, same optimizer
steps, one thing changed") and returns a `comparison.Comparison`, which holds the runs arm by arm
and the statistics that compare them.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from distillab import forgetting, knobs, reuse, runtime, worker_pool, world
from distillab import tokenizer as tok
from distillab.architectures import LoraSettings, load_causal_lm, trainable_parameters, with_lora
from distillab.comparison import Comparison, StudentRun
from distillab.evaluation import Evaluation, evaluate
from distillab.ledger import Ledger
from distillab.live_table import LiveComparison
from distillab.models import STUDENT_SIZE, build_model, count_parameters, load_model
from distillab.onpolicy import OnPolicyConfig, distill_on_policy
from distillab.profiles import Profile
from distillab.records import DISTILLED, FAMILIES, Compute, RunRecord, TeacherRef
from distillab.training import History, Objective, TrainingConfig, TrainingSet, sft_objective, train
from distillab.worker_pool import default_count as default_worker_count


@dataclass(kw_only=True)
class Setup:
    """What every comparison of a chapter shares: the chapter, the profile it runs at, the teacher,
    the held-out test set and a student's training budget. Each chapter's module extends it."""
    chapter: str  # "02", "03", "04": written into every record
    profile: Profile
    teacher: PreTrainedModel
    tokenizer: PreTrainedTokenizerFast  # the teacher's, and every student's
    teacher_ref: TeacherRef  # the teacher as the records name it: where it lives, its weights' hash, its cost
    held_out: dict[int, list[world.Problem]]  # difficulty -> test problems
    training: TrainingConfig  # a student's budget in this chapter (each run sets its own seed)

    def shared(self) -> dict:
        """The fields every setup has, as keyword arguments: another chapter's setup on the same
        teacher, test set and budget starts from them."""
        return {f.name: getattr(self, f.name) for f in fields(Setup)}


def load_teacher(teacher_dir: str | Path, teacher_name: str):
    """(model, tokenizer, provenance, reference) of the teacher saved in `teacher_dir`."""
    model, tokenizer, provenance = load_model(teacher_dir)
    return model, tokenizer, provenance, TeacherRef.of(teacher_dir, teacher_name)


@dataclass(frozen=True)
class Arm:
    """One recipe of a comparison: what the student learns from, and how."""
    family: str  # records.FAMILIES: the kind of model this recipe makes
    data: TrainingSet  # the training texts (with the teacher's cached log-probs, for logit KD)
    objective: Objective = sft_objective  # how it learns from them: SFT, or a KD loss
    on_policy: OnPolicyConfig | None = None  # chapter 04: the student writes λ of its batches, the teacher grades them
    training: TrainingConfig | None = None  # its budget, when it is not the setup's (each run sets its own seed)
    warm_start: dict[int, StudentRun] | None = None  # seed -> the trained student it continues (chapter 04)
    teacher_data_flops: float = 0.0  # what its data cost the teacher: traces written, logits cached
    settings: dict = field(default_factory=dict)  # its knobs, kept in the record for people to read
    architecture: str | None = None  # chapter 06: a student of another architecture (models.ARCHITECTURES) ...
    tokenizer: PreTrainedTokenizerBase | None = None  # ... and/or tokenizer (`data` is tokenized with it)
    start_from: Path | None = None  # chapter 07: a pretrained checkpoint the student starts from (with `tokenizer`) ...
    lora: LoraSettings | None = None  # ... trained through LoRA adapters (None: every weight trains)
    prompt_format: str = "world"  # how the student is asked, in its data and its evaluation (architectures.PROMPT_FORMATS)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")


def train_student(setup: Setup, name: str, arm: Arm, seed: int, ledger: Ledger | None = None,
                  key: str | None = None, on_step: Callable[[int, float], None] | None = None) -> StudentRun:
    """Train one student by `arm`'s recipe with `seed` (a new student initialised with it, or a copy
    of the arm's warm start for that seed), evaluate it on the held-out problems and, with a
    `ledger`, record it there. Stopped by the learner (Ctrl-C), it is evaluated and recorded as
    far as it got, marked interrupted. Its record carries `key` (default: `reuse.run_key`);
    `on_step(step, loss)` hears of every optimizer step. It trains and is tested on
    `runtime.run_threads` threads, whatever process it runs in, and its record says so."""
    key = key if key is not None else reuse.run_key(setup, arm, seed)
    tokenizer = arm.tokenizer or setup.tokenizer  # the student's: it trains, samples and is tested with this one
    threads = runtime.run_threads(pretrained=arm.start_from is not None)
    with runtime.fixed_threads(threads):
        student, as_it_came = starting_model(arm, tokenizer, seed)
        learned = learn(student, setup, name, arm, tokenizer, seed, on_step)
        evaluation = evaluate(student, tokenizer, setup.held_out, prompt_format=arm.prompt_format)
        lost = forgetting.measure(student, tokenizer, as_it_came).as_dict() if as_it_came is not None else None
    record = student_record(setup, name, arm, seed, student, learned, evaluation, lost, key, runtime.numerics(threads))
    if ledger is not None:
        ledger.record(record)
    return StudentRun(name, seed, evaluation.accuracy, learned.history.total_flops, learned.history.total_seconds,
                      learned.history.completed_steps, len(arm.data), learned.history, student, record)


def starting_model(arm: Arm, tokenizer: PreTrainedTokenizerBase, seed: int) -> tuple[torch.nn.Module, forgetting.Reference | None]:
    """The student before it learns: a copy of the arm's warm start for `seed`, a pretrained
    checkpoint (with LoRA adapters when the arm has them), or a new model initialised by `seed`.
    Beside it, for a pretrained one, what it does away from the task as it comes (`forgetting`)."""
    if arm.warm_start is not None:
        return copy.deepcopy(arm.warm_start[seed].model), None
    if arm.start_from is None:  # the course's own student (a Llama), or another architecture or tokenizer (chapter 06)
        return build_model(STUDENT_SIZE, tokenizer, seed, architecture=arm.architecture or "llama"), None
    student = load_causal_lm(arm.start_from)[0]
    as_it_came = forgetting.remembered_reference((reuse.checkpoint_sha256(arm.start_from), tok.fingerprint(tokenizer)),
                                                 student, tokenizer)
    return (with_lora(student, arm.lora, seed) if arm.lora is not None else student), as_it_came


@dataclass(frozen=True)
class Learned:
    """What training did: its history, and for on-policy distillation the FLOPs of the student's
    own samples and of the teacher's grading."""
    history: History
    student_sampling_flops: float = 0.0
    teacher_scoring_flops: float = 0.0


def learn(student: torch.nn.Module, setup: Setup, name: str, arm: Arm, tokenizer: PreTrainedTokenizerBase, seed: int,
          on_step: Callable[[int, float], None] | None) -> Learned:
    """Train `student` in place by the arm's recipe, with `seed`: on its data (SFT or logit KD), or
    on-policy, writing part of its batches itself for the setup's teacher to grade."""
    training = replace(arm.training or setup.training, seed=seed)
    if arm.on_policy is None:
        return Learned(train(student, arm.data, training, arm.objective, progress=False, description=name, on_step=on_step))
    done = distill_on_policy(student, setup.teacher, arm.data, tokenizer, arm.on_policy, training,
                             progress=False, description=name, on_step=on_step)
    return Learned(done.history, done.student_sampling_flops, done.teacher_scoring_flops)


def student_record(setup: Setup, name: str, arm: Arm, seed: int, student: torch.nn.Module, learned: Learned,
                   evaluation: Evaluation, lost: dict | None, key: str | None, numerics: dict) -> RunRecord:
    """The run as the ledger keeps it: its recipe, what it cost (every FLOP counted), its accuracy,
    what it lost away from the task (a pretrained student), its key and the numerics it ran with."""
    history, warm = learned.history, (arm.warm_start[seed] if arm.warm_start is not None else None)
    settings = arm.settings if arm.start_from is None else {**arm.settings,
                                                            "trainable parameters": trainable_parameters(student)}
    return RunRecord(
        chapter=setup.chapter, family=arm.family, arm=name, profile=setup.profile.name, seed=seed,
        model_size=STUDENT_SIZE if arm.start_from is None else Path(arm.start_from).name,
        parameters=count_parameters(student), data_size=len(arm.data),
        steps=history.completed_steps, seconds=history.total_seconds, accuracy=evaluation.accuracy,
        compute=Compute(training=history.total_flops, warm_start=warm.flops if warm is not None else 0.0,
                        teacher_data=arm.teacher_data_flops, evaluation=evaluation.flops,
                        student_sampling=learned.student_sampling_flops, teacher_scoring=learned.teacher_scoring_flops),
        teacher=setup.teacher_ref if arm.family in DISTILLED else None, settings=settings,
        interrupted=history.interrupted, key=key, forgetting=lost, numerics=numerics)


def compare(setup: Setup, arms: dict[str, Arm], seeds: tuple[int, ...] | None = None,
            ledger: Ledger | None = None, keep_models: bool = True, retrain: bool = False,
            workers: int | None = None, title: str | None = None) -> Comparison:
    """Every arm on every seed (default: the profile's). Chapters 02, 03, 04, 06 and 07 all compare
    this way.

    With a `ledger`, a run whose key (`reuse.run_key`: everything that decides its result) is there
    already, finished, is read back instead of trained (with its saved weights, unless
    `keep_models=False`); `retrain=True` trains every run again. Every run trained is recorded
    there, by this process. The runs left to train go to `workers` processes (default
    `worker_pool.default_count`: one per core on a CPU; 1 trains here). A run fixes its own threads
    (`runtime.run_threads`), so the number of workers changes how many runs go at once, never a
    result: bit for bit the same. Another CPU may still give a seed another result (its sums come
    out in another order), as another seed would; each record names its threads and the CPU's
    instruction set (`runtime.numerics`). A live table fills in run by run, under one progress line.

    Ctrl-C stops the runs in progress cleanly after their step, records them marked interrupted,
    keeps every finished run, and ends the comparison with a KeyboardInterrupt that says so.
    `keep_models=False` lets each trained student go once it is measured (chapter 07's are 135M
    parameters each); a LoRA student's adapters (its trainable weights alone) are kept on disk all the same
    (`reuse.saved_student` finds them), so that a chapter can reload the one it picks."""
    seeds = check_seeds(setup.profile.seeds if seeds is None else seeds)
    knobs.flag("retrain (RETRAIN)", retrain)
    digests = {name: reuse.data_sha256(arm.data) for name, arm in arms.items()}
    keys = {(name, seed): reuse.run_key(setup, arm, seed, digests[name]) for seed in seeds for name, arm in arms.items()}
    done = {} if retrain or ledger is None else _reused_runs(setup, keys, ledger, keep_models)
    plan = [(name, seed) for seed in seeds for name in arms if (name, seed) not in done]
    count = _worker_count(workers, arms, len(plan))
    print(_plan_line(arms, seeds, done, plan, count, ledger, retrain), flush=True)
    steps = sum((arms[name].training or setup.training).num_steps for name, _ in plan)
    view = LiveComparison(title or f"{' vs '.join(arms)}, paired by seed", list(arms), seeds, steps)
    for (name, seed), run in done.items():
        view.finished(name, seed, run.mean_accuracy, reused=True)

    def keep(run: StudentRun) -> None:  # a run just trained: record it, keep its weights (or adapters) on disk
        arm, record = arms[run.arm], run.record
        if ledger is not None and (keep_models or arm.lora) and record.key is not None and not record.interrupted:
            tokenizer = arm.tokenizer or setup.tokenizer
            record = replace(record, weights_sha256=reuse.save_student(run.model, tokenizer, setup.profile, record.key))
        if ledger is not None:
            ledger.record(record)
        run.record = record
        if not keep_models:
            run.model = None
        done[run.arm, run.seed] = run
        view.finished(run.arm, run.seed, run.mean_accuracy, interrupted=record.interrupted)

    try:
        if count == 1:
            _train_here(setup, arms, plan, keys, view, keep)
        else:
            _train_in_workers(setup, arms, plan, keys, view, keep, count)
    except KeyboardInterrupt:
        stopped = [f"{name!r} seed {seed}" for (name, seed), run in done.items() if run.record and run.record.interrupted]
        kept = f"; all {len(done)} runs, the stopped ones marked interrupted, are in {ledger.path}" if ledger else ""
        raise KeyboardInterrupt(f"stopped during {', '.join(stopped) or 'the comparison'}{kept}") from None
    finally:
        view.close()
    results = Comparison({name: [done[name, seed] for seed in seeds] for name in arms})
    results.timing = {"seconds": time.perf_counter() - view.begin, "first_paired_seed_seconds": view.seconds_to_first_pair,
                      "reused": len(seeds) * len(arms) - len(plan), "trained": len(plan), "workers": count}
    return results


def _reused_runs(setup: Setup, keys: dict, ledger: Ledger, keep_models: bool) -> dict[tuple[str, int], StudentRun]:
    """The runs of `keys` that `ledger` holds finished (with their saved weights if `keep_models`)."""
    finished = reuse.finished_runs(ledger.entries())
    found = {}
    for (name, seed), key in keys.items():
        record = finished.get(key) if key is not None else None
        if record is None:
            continue
        model = reuse.load_student(record, setup.profile) if keep_models else None
        if keep_models and model is None:  # its weights are gone or changed: train it again
            continue
        found[name, seed] = StudentRun.from_record(name, record, model)
    return found


def _worker_count(workers: int | None, arms: dict[str, Arm], runs: int) -> int:
    if workers is None:
        return default_worker_count(runs, any(arm.start_from is not None for arm in arms.values()))
    return min(knobs.whole_number("workers (WORKERS: processes that train at once)", workers, 1), max(runs, 1))


def _plan_line(arms: dict[str, Arm], seeds: tuple[int, ...], done: dict, plan: list, count: int,
               ledger: Ledger | None, retrain: bool) -> str:
    """'4 of 6 runs reused from your ledger; training: KD x 2 (seeds 1, 2) on 2 worker processes'."""
    total = len(seeds) * len(arms)
    if retrain:
        head = f"RETRAIN: training all {total} runs again"
    elif ledger is None:
        head = f"{total} runs, none looked up (no ledger)"
    else:
        head = f"{len(done)} of {total} runs reused from your ledger ({ledger.path})"
    if not plan:
        return f"{head}; nothing to train (RETRAIN = True trains them again)"
    trained = ", ".join(f"{name} x {len(on)} (seed{'s' if len(on) > 1 else ''} {', '.join(map(str, on))})"
                        for name in arms if (on := [seed for arm, seed in plan if arm == name]))
    where = "here" if count == 1 else f"on {count} worker processes"
    return f"{head}; training: {trained}, {where}"


def _train_here(setup: Setup, arms: dict[str, Arm], plan: list, keys: dict, view: LiveComparison, keep) -> None:
    """The runs of `plan`, one after the other in this process."""
    for name, seed in plan:
        view.started(name, seed)
        run = train_student(setup, name, arms[name], seed, key=keys[name, seed],
                            on_step=lambda step, loss, name=name, seed=seed: view.step(name, seed, 1, loss))
        keep(run)
        if run.record.interrupted:  # the learner pressed stop: keep what is done, stop the comparison
            raise KeyboardInterrupt


def _train_in_workers(setup: Setup, arms: dict[str, Arm], plan: list, keys: dict, view: LiveComparison, keep,
                      count: int) -> None:
    """The runs of `plan` on `count` worker processes; each one kept as it comes back. The first
    seed's runs go first, alone, so its paired verdict shows as early as it can; the other runs
    follow together, one per worker (the most runs per second)."""
    pool = worker_pool.pool(count)
    tasks = {}

    def submit(indices: list[int]) -> set[Future]:
        submitted = set()
        for task in indices:
            name, seed = plan[task]
            arm = arms[name]
            if arm.warm_start is not None:  # a worker needs its own seed's warm start only
                arm = replace(arm, warm_start={seed: arm.warm_start[seed]})
            future = pool.submit(task, train_student, setup, name, arm, seed, None, keys[name, seed])
            tasks[future] = (name, seed)
            submitted.add(future)
        return submitted

    first = [task for task, (_, seed) in enumerate(plan) if seed == plan[0][1]]
    later = [task for task in range(len(plan)) if task not in first]
    last_step = dict.fromkeys(range(len(plan)), 0)
    pending, stopping = submit(first), False
    try:
        while pending:
            finished, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            for task, step, loss in pool.reports():
                name, seed = plan[task]
                if last_step[task] == 0:
                    view.started(name, seed)
                view.step(name, seed, step - last_step[task], loss)
                last_step[task] = step
            for future in sorted(finished, key=lambda f: plan.index(tasks[f])):
                run = future.result()
                if run is not None:
                    keep(run)
                    stopping = stopping or run.record.interrupted
            if stopping:  # a worker heard Ctrl-C first
                raise KeyboardInterrupt
            if not pending and later:  # the first seed is done: the rest, one run per worker
                pending, later = submit(later), []
    except KeyboardInterrupt:
        pool.interrupt()
        for future in sorted(pending, key=lambda f: plan.index(tasks[f])):
            run = future.result()  # a run in progress comes back after its step, one not begun as None
            if run is not None:
                keep(run)
        raise
    except BrokenProcessPool:
        worker_pool.discard_pool()
        script = worker_pool.unguarded_main_script()
        if script:
            raise RuntimeError(f"{script} starts a comparison at its top level, and each worker process imports the "
                               "script again before it trains: put the script's work under "
                               "`if __name__ == \"__main__\":`, or pass workers=1 to train in this process alone; "
                               "every run finished before it is kept") from None
        raise RuntimeError("a worker process died (out of memory?); every run finished before it is kept. Run "
                           "again with WORKERS = 1 to train in the notebook's own process") from None
    except Exception:  # a run failed (its error is raised here): the others stop too, the finished ones are kept
        pool.interrupt()
        raise


def check_seeds(seeds) -> tuple[int, ...]:
    """The SEEDS knob of a chapter: distinct whole numbers, at least one."""
    return knobs.seeds("seeds", seeds)
