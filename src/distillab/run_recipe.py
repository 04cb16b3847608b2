"""One distillation from one file: `python -m distillab.run_recipe RECIPE.toml`. Any Hugging Face
causal LM pair (the course's teacher, or checkpoints you saved or downloaded), one of the three
recipes (traces with a verifier filter, logit KD with chapter 02's losses, on-policy), and the
student saved with `save_pretrained`, its ledger line and a short report. Chapter 06 uses it.

Under `accelerate launch --multi_gpu --num_processes N -m distillab.run_recipe RECIPE.toml` (or
`torchrun --nproc_per_node N`) the teacher's traces are sampled in N shards and the student trains
data-parallel (`data_parallel`); with one process it is the course's own code path, unchanged.

The file's keys, with their defaults, are in `recipe_file`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from distillab import knobs, world
from distillab import recipe_file
from distillab import tokenizer as tok
from distillab.cost import H100, GpuAssumptions, dollars, generation_flops, gpu_hours, training_flops
from distillab.architectures import load_causal_lm, same_tokenizer
from distillab.distillation import DistillationConfig, kd_objective
from distillab.evaluation import evaluate
from distillab.ledger import Ledger
from distillab.models import (PROVENANCE_FILE, Provenance, build_model, count_parameters, file_sha256, replace_folder,
                             save_model)
from distillab.onpolicy import OnPolicyConfig, distill_on_policy
from distillab.data_parallel import DataParallel, Processes, sum_over_processes
from distillab.profiles import get_profile
from distillab.records import Compute, RunRecord, TeacherRef
from distillab.recipe_file import DATA_SEED, FAMILY, Recipe, load_recipe, reachable
from distillab.sampling import TraceSamples, sample_traces
from distillab.stored_sweeps import typed
from distillab.training import BatchSampler, TrainingSet, sft_objective, train
from distillab.workspace import portable, resolve

CHAPTER = "06"



@dataclass
class StudentResult:
    seed: int
    accuracy: dict[int, float]
    flops: float  # its training, all processes together
    seconds: float
    folder: str  # where the student was saved (inside the output folder)
    losses: list[float] = field(default_factory=list)  # the training loss at every step (whole batch)

    @property
    def mean_accuracy(self) -> float:
        return world.mean_accuracy(self.accuracy)


@dataclass
class Report:
    recipe: str
    kind: str
    processes: int
    teacher_accuracy: dict[int, float]
    teacher_data_flops: float  # the teacher writing its traces (all processes)
    teacher_data_seconds: float
    acceptance: float  # share of the teacher's samples the verifier accepted
    training_examples: int
    students: list[StudentResult] = field(default_factory=list)
    seconds: float = 0.0  # the whole run, wall time

    def to_markdown(self) -> str:
        teacher = world.mean_accuracy(self.teacher_accuracy)
        lines = [f"# {self.recipe}", "",
                 f"{self.kind} distillation on {self.processes} process(es), {self.seconds:.0f} s in all. "
                 f"Teacher: {100 * teacher:.1f} % on held-out problems; it wrote {self.training_examples} "
                 f"training examples ({100 * self.acceptance:.1f} % of its samples accepted) for "
                 f"{self.teacher_data_flops:.3g} FLOPs.", "",
                 "| seed | accuracy (%) | training FLOPs | training seconds |", "|---|---|---|---|"]
        lines += [f"| {s.seed} | {100 * s.mean_accuracy:.1f} | {s.flops:.3g} | {s.seconds:.1f} |" for s in self.students]
        return "\n".join(lines) + "\n"


def checkpoint_sha256(folder: Path) -> str:
    """The SHA-256 of a checkpoint's weights (of all its .safetensors files, when sharded)."""
    if not folder.is_dir():  # downloaded from the hub (HF_HUB_OFFLINE=0): named, not hashed here
        return f"not hashed: {folder} from the Hugging Face hub"
    files = sorted(folder.glob("*.safetensors"))
    if len(files) == 1:
        return file_sha256(files[0])
    return hashlib.sha256("".join(file_sha256(f) for f in files).encode()).hexdigest()


def reference(folder: Path, name: str, teacher: PreTrainedModel, accuracy: dict[int, float]) -> TeacherRef:
    """The teacher as a record names it: a course teacher (saved with its provenance) as every
    chapter names it, any other checkpoint with its hash and the accuracy measured here (its
    training cost unknown: 0)."""
    if (folder / PROVENANCE_FILE).is_file():
        return TeacherRef.of(folder, name)
    return TeacherRef(name=name, location=portable(folder), weights_sha256=checkpoint_sha256(folder),
                      parameters=count_parameters(teacher), training_flops=0.0, training_seconds=0.0,
                      accuracy=accuracy)


def student_tokenizer(recipe: Recipe, teacher_tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    if recipe.student_path is not None:
        return load_causal_lm(resolve(recipe.student_path))[1]
    if recipe.student_tokenizer == "teacher":
        return teacher_tokenizer
    if recipe.student_tokenizer == "bpe":
        return tok.build_bpe_tokenizer()
    return tok.load_tokenizer(recipe.student_tokenizer)


def new_student(recipe: Recipe, tokenizer: PreTrainedTokenizerBase, seed: int) -> PreTrainedModel:
    if recipe.student_path is not None:
        return load_causal_lm(resolve(recipe.student_path))[0]
    return build_model(recipe.size, tokenizer, seed, architecture=recipe.architecture)


def teacher_samples(recipe: Recipe, teacher, tokenizer, problems: list[world.Problem],
                    processes: Processes) -> TraceSamples:
    """The teacher's completions of `problems`, each process sampling its share; all of them back
    on every process. Logit KD and on-policy read the teacher's greedy traces; trace distillation
    samples k per prompt at the recipe's temperature."""
    greedy = recipe.kind != "traces"
    k, temperature = (1, 0.0) if greedy else (recipe.samples_per_prompt, recipe.temperature)
    share = problems[processes.rank::processes.world_size]
    mine = sample_traces(teacher, tokenizer, share, k, temperature, seed=DATA_SEED + processes.rank,
                         prompt_format=recipe.teacher_prompt_format, max_new_tokens=recipe.max_new_tokens)
    # gathered in rank order: rank 0's share (problems 0, n, 2n, ...), then rank 1's (1, n + 1, ...), ...
    gathered = list(zip(processes.gather(mine.texts), processes.gather(mine.correct)))
    problem_of = [i for rank in range(processes.world_size) for i in range(rank, len(problems), processes.world_size)]
    in_order = [pair for _, pair in sorted(zip(problem_of, gathered), key=lambda item: item[0])]
    return TraceSamples(problems=problems, texts=[texts for texts, _ in in_order],
                        correct=[correct for _, correct in in_order], temperature=temperature,
                        generated_tokens=int(sum_over_processes(mine.generated_tokens)),
                        prompt_tokens=int(sum_over_processes(mine.prompt_tokens)),
                        flops=sum_over_processes(mine.flops), seconds=mine.seconds,
                        prompt_format=recipe.teacher_prompt_format)


def training_data(recipe: Recipe, samples: TraceSamples, tokenizer: PreTrainedTokenizerBase) -> TrainingSet:
    """The student's training set: the teacher's kept texts (verified, or all with no filter),
    each prompt in the student's format and the texts rendered for it. A kept set smaller than one
    batch is refused before anything trains, with how many were kept."""
    keep = "first" if recipe.verifier_filter else "unfiltered"
    kept = len(samples.traces(keep)) if samples.k else 0
    if kept < recipe.batch_size:
        asked = f"asked as {recipe.teacher_prompt_format!r}, temperature {samples.temperature:g}, k = {samples.k}"
        raise ValueError(f"the teacher's {len(samples.problems) * samples.k} samples ({asked}) left {kept} training "
                         f"examples after the {'verifier' if recipe.verifier_filter else 'no-filter rule'}, fewer than "
                         f"one batch of {recipe.batch_size}: nothing worth training on. Is the teacher asked in the "
                         "format it was trained on ([teacher] prompt_format)? Else sample more (samples_per_prompt, "
                         "prompts_per_difficulty), or use a smaller batch_size")
    return samples.training_set(tokenizer, keep, recipe.prompt_format)


def train_one(recipe: Recipe, student, teacher, tokenizer, data: TrainingSet, seed: int,
              processes: Processes, progress: bool):
    """Train one student by the recipe; returns its history (data-parallel over the processes)."""
    config = recipe.training_config(seed)
    description = f"{recipe.name} (seed {seed})"
    parallel = None if processes.world_size == 1 else DataParallel(processes.accelerator.prepare_model(student),
                                                             processes.rank, processes.world_size)
    if recipe.kind == "on-policy":
        run = distill_on_policy(student, teacher, data, tokenizer, OnPolicyConfig(recipe.lmbda, recipe.beta),
                                config, progress=progress, description=description, data_parallel=parallel)
        return run.history
    objective = sft_objective if recipe.kind == "traces" else kd_objective(
        DistillationConfig(recipe.loss, recipe.kd_temperature), teacher=teacher)
    if parallel is None:  # one process: the course's own path
        return train(student, data, config, objective, progress=progress, description=description)
    return train(student, data, config, parallel.objective(objective), progress=progress, description=description,
                 batches=parallel.batches(BatchSampler(data, config.batch_size, seed, config.mix)))


def run(recipe: Recipe, progress: bool = True) -> Report:
    """Run `recipe` to the end and write its output folder (all at once: a run stopped part-way
    leaves no output behind, and an earlier output stays as it was). Returns the report."""
    start = time.perf_counter()
    reachable(recipe)
    processes = Processes()
    progress = progress and processes.is_main
    teacher_folder = resolve(recipe.teacher)
    teacher, teacher_tokenizer = load_causal_lm(teacher_folder)
    tokenizer = student_tokenizer(recipe, teacher_tokenizer)
    if recipe.kind != "traces" and not same_tokenizer(tokenizer, teacher_tokenizer):
        raise ValueError(f"{recipe.kind} distillation compares the teacher's and the student's next-token "
                         "distributions position by position, so it needs one tokenizer; this student's tokenizer "
                         "maps text to other ids. Distil across tokenizers by traces: kind = \"traces\"")
    recipe.check_asked_alike()
    held_out = {d: problems for d, problems in world.held_out_problems(recipe.eval_per_difficulty).items()
                if d in recipe.difficulties}
    prompts = world.training_problems(recipe.prompts_per_difficulty, DATA_SEED, held_out, recipe.difficulties)
    problems = [p for d in recipe.difficulties for p in prompts[d]]
    samples = teacher_samples(recipe, teacher, teacher_tokenizer, problems=problems, processes=processes)
    data = training_data(recipe, samples, tokenizer)
    teacher_eval = evaluate(teacher, teacher_tokenizer, held_out, prompt_format=recipe.teacher_prompt_format,
                            max_new_tokens=recipe.max_new_tokens) if processes.is_main else None
    report = Report(recipe.name, recipe.kind, processes.world_size, teacher_eval.accuracy if teacher_eval else {},
                    samples.flops, samples.seconds, samples.acceptance, len(data))
    staging = teacher_ref = None
    if processes.is_main:
        teacher_ref = reference(teacher_folder, recipe.teacher, teacher, teacher_eval.accuracy)
        recipe.output.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{recipe.output.name}-", dir=recipe.output.parent))
    try:
        records = []
        for seed in recipe.seeds:
            student = new_student(recipe, tokenizer, seed)
            history = train_one(recipe, student, teacher, tokenizer, data, seed, processes, progress)
            flops = sum_over_processes(history.total_flops)
            if processes.is_main:
                result, record = _finish_student(recipe, student, tokenizer, history=history, flops=flops,
                                                 held_out=held_out, samples=samples, teacher_ref=teacher_ref,
                                                 data_size=len(data), seed=seed, staging=staging)
                report.students.append(result)
                records.append(record)
        processes.wait()
        if processes.is_main:
            ledger = Ledger(get_profile(recipe.profile), staging / "ledger.jsonl")
            for record in records:
                ledger.record(record)
            report.seconds = time.perf_counter() - start
            (staging / "report.md").write_text(report.to_markdown())
            (staging / "report.json").write_text(json.dumps(asdict(report), indent=1, default=str) + "\n")
            staging.chmod(0o755)  # mkdtemp made it private; the output is an ordinary folder
            replace_folder(staging, recipe.output)
    finally:
        if staging is not None and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return report


def _finish_student(recipe: Recipe, student, tokenizer, *, history, flops: float, held_out: dict, samples,
                    teacher_ref: TeacherRef, data_size: int, seed: int, staging: Path) -> tuple[StudentResult, RunRecord]:
    """Evaluate and save one trained student (main process); its result and ledger record."""
    evaluation = evaluate(student, tokenizer, held_out, prompt_format=recipe.prompt_format,
                          max_new_tokens=recipe.max_new_tokens)
    size = recipe.size if recipe.student_path is None else "checkpoint"
    folder = staging / f"student-seed{seed}"
    provenance = Provenance(size=size, seed=seed, profile=recipe.profile, steps=history.completed_steps,
                            parameters=count_parameters(student), accuracy=evaluation.accuracy, flops=flops,
                            seconds=history.total_seconds, extra={"recipe": recipe.name, "kind": recipe.kind})
    save_model(student, tokenizer, folder, provenance)
    record = RunRecord(chapter=CHAPTER, family=FAMILY[recipe.kind], arm=recipe.name, profile=recipe.profile,
                       seed=seed, model_size=size, parameters=count_parameters(student), data_size=data_size,
                       steps=history.completed_steps, seconds=history.total_seconds, accuracy=evaluation.accuracy,
                       compute=Compute(training=flops, teacher_data=samples.flops, evaluation=evaluation.flops),
                       teacher=teacher_ref, settings={"kind": recipe.kind, "architecture": recipe.architecture,
                                                      "student_tokenizer": recipe.student_tokenizer})
    result = StudentResult(seed, evaluation.accuracy, flops, history.total_seconds,
                           str(recipe.output / folder.name), history.loss)
    return result, record


def load_report(output: str | Path) -> Report:
    """The report a finished run wrote into its `output` folder (report.json)."""
    path = Path(output) / "report.json"
    if not path.is_file():
        raise FileNotFoundError(f"no finished run at {output} (expected {path}): run the recipe first")
    return typed(Report, json.loads(path.read_text()))  # the one reader: difficulties as numbers again


def launch_command(path: str | Path, processes: int = 1) -> list[str]:
    """The command that runs the recipe file at `path`: `python -m distillab.run_recipe` for one
    process, `accelerate launch` (over torch.distributed) for several."""
    knobs.whole_number("processes", processes, 1)
    if processes == 1:
        return [sys.executable, "-m", "distillab.run_recipe", str(path), "--quiet"]
    accelerate = Path(sys.executable).with_name("accelerate")
    return [str(accelerate), "launch", "--multi_gpu", "--num_processes", str(processes), "--num_machines", "1",
            "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "distillab.run_recipe", str(path), "--quiet"]


def launch(path: str | Path, processes: int = 1) -> float:
    """Run the recipe file at `path` on `processes` processes, as a learner would from a terminal,
    and return its wall time in seconds (process start-up included). A failed run raises a
    RuntimeError with the end of its log."""
    command = launch_command(path, processes)
    print("$", " ".join(Path(part).name if i == 0 else part for i, part in enumerate(command)))
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the recipe failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")
    return time.perf_counter() - start


@dataclass(frozen=True)
class Price:
    """What a recipe costs at real sizes, by the rules of thumb of chapter 00."""
    samples: int  # the teacher's samples: prompts x samples per prompt
    teacher_data_flops: float  # the teacher writing every sample: 2·N per token
    training_flops: float  # every seed's training of the student: 6·N per token
    gpu_hours: float
    dollars: float

    @property
    def flops(self) -> float:
        return self.teacher_data_flops + self.training_flops


def price(recipe: Recipe, teacher_parameters: float, student_parameters: float, tokens_per_example: float,
          gpu: GpuAssumptions = H100) -> Price:
    """The FLOPs, GPU-hours and dollars of `recipe` for models of these sizes, when each prompt
    with its completion is `tokens_per_example` tokens long (at `gpu`'s stated assumptions)."""
    knobs.number("tokens_per_example", tokens_per_example, above=0)
    samples = recipe.prompts_per_difficulty * len(recipe.difficulties) * recipe.samples_per_prompt
    teacher = generation_flops(teacher_parameters, samples * tokens_per_example)
    student = training_flops(student_parameters, recipe.steps * recipe.batch_size * tokens_per_example) \
        * len(recipe.seeds)
    total = teacher + student
    return Price(samples, teacher_data_flops=teacher, training_flops=student, gpu_hours=gpu_hours(total, gpu),
                 dollars=dollars(total, gpu))


def main(argv: list[str] | None = None) -> int:
    description = __doc__.split("The file's keys")[0] + recipe_file.__doc__.split("\n\n", 1)[1]  # every key
    parser = argparse.ArgumentParser(prog="python -m distillab.run_recipe", description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", help="the recipe file (TOML)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)

    def stopped(signum, frame):  # the launcher ends every process when one of them fails
        raise SystemExit(f"distillab.run_recipe: stopped (signal {signum}): another process of this run ended, or the "
                         "run was cancelled. Nothing was written to the output folder.")

    signal.signal(signal.SIGTERM, stopped)
    try:
        recipe = load_recipe(args.recipe)
        report = run(recipe, progress=not args.quiet)
    except (ValueError, FileNotFoundError) as error:
        print(f"distillab.run_recipe: {error}", file=sys.stderr)
        return 1
    except RuntimeError as error:  # torch.distributed: a peer process is gone
        print(f"distillab.run_recipe: the run stopped because a process failed ({error}). Nothing was written to "
              "the output folder.", file=sys.stderr)
        return 1
    if int(os.environ.get("RANK", "0")) == 0:
        print(report.to_markdown())
        print(f"written to {recipe.output}")
    return 0


if __name__ == "__main__":
    from distillab.runtime import run_command

    sys.exit(run_command(main, "distillab.run_recipe"))
