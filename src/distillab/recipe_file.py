"""A recipe file: the TOML that says what one distillation runs (`distillab.run_recipe` runs it), read
and checked before any compute is spent (`load_recipe`): every knob in its range, every model
folder reachable.

A recipe file (every key but `name`, `output`, `[teacher] path` and `[student]` has a default)::

    name = "traces to a qwen2 student"
    output = "runs/qwen2-traces"   # relative paths are relative to the file
    profile = "fast"               # whose ledger conventions the record follows

    [teacher]
    path = "package:reference/teacher"   # any causal LM folder; "package:" and "home:" work too
    prompt_format = "world"  # how the teacher is asked (default: the student's [data] prompt_format)

    [student]
    architecture = "qwen2"   # llama, qwen2 or gpt2, built at `size` ...
    size = "small"
    tokenizer = "bpe"        # "teacher", "bpe" (trained here) or a folder
    # path = "checkpoints/student"   # ... or start from a saved checkpoint instead

    [recipe]
    kind = "traces"          # traces, logits or on-policy
    samples_per_prompt = 1   # k (traces)
    temperature = 1.0        # the teacher's sampling temperature (traces; 0 = greedy)
    verifier_filter = true   # keep only the teacher's texts the verifier accepts
    loss = "forward_kl"      # chapter 02's losses (logits); kd_temperature = 1.0
    lmbda = 1.0              # on-policy: share of batches the student writes; beta = 1.0

    [data]
    prompts_per_difficulty = 200
    difficulties = [1, 2, 3, 4, 5]
    prompt_format = "world"  # how the student is asked: "world", or "natural" (plain English, through
                             # the chat template if its tokenizer has one); the teacher's verified
                             # world-format traces are rendered in plain English for a "natural" student
    max_new_tokens = 48      # room per answer (default: the longest trace of the difficulty, per model)

    [training]
    steps = 300
    batch_size = 32
    micro_batch_size = 4     # sequences through the model at a time, gradients summed: the same step,
                             # a fraction of the memory (default: the whole batch at once)
    learning_rate = 3e-3     # for a small student from scratch; fine-tune a pretrained one at ~1e-5
    warmup_steps = 30        # default: min(30, steps // 4)
    seeds = [0]

    [evaluation]
    per_difficulty = 50
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

try:  # the standard library's TOML reader from Python 3.11; the same package, as tomli, before it
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

from distillab import hub, knobs, world
from distillab.architectures import HUB_ID, PROMPT_FORMATS
from distillab.distillation import LOSSES
from distillab.models import ARCHITECTURES, SIZES
from distillab.profiles import PROFILES
from distillab.records import LOGITS, ON_POLICY, TRACES
from distillab.training import TrainingConfig
from distillab.workspace import HOME_PREFIX, PACKAGE_PREFIX

EXAMPLE_RECIPES = Path(__file__).parent / "example_recipes"  # recipe files that ship with the course
KINDS = ("traces", "logits", "on-policy")
FAMILY = {"traces": TRACES, "logits": LOGITS, "on-policy": ON_POLICY}
DATA_SEED = 6  # the training prompts every recipe draws (held-out problems are the world's TEST_SEED)


@dataclass(frozen=True)
class Recipe:
    """A whole distillation, as the recipe file says it (see the module's docstring)."""
    name: str
    output: Path  # the folder the run writes: students, ledger.jsonl, report.md, report.json
    teacher: str  # the teacher's folder ("package:" and "home:" locations resolve)
    teacher_prompt_format: str | None = None  # how the teacher is asked (None: as the student, `prompt_format`)
    kind: str = "traces"  # KINDS
    student_path: str | None = None  # start from this checkpoint ...
    architecture: str = "llama"  # ... or build this architecture (ARCHITECTURES)
    size: str = "small"  # at this size (models.SIZES)
    student_tokenizer: str = "teacher"  # for a built student: "teacher", "bpe" or a tokenizer folder
    profile: str = "fast"
    samples_per_prompt: int = 1
    temperature: float = 1.0
    verifier_filter: bool = True
    loss: str = "forward_kl"
    kd_temperature: float = 1.0
    lmbda: float = 1.0
    beta: float = 1.0
    prompts_per_difficulty: int = 200
    difficulties: tuple[int, ...] = world.DIFFICULTIES
    prompt_format: str = "world"  # how the student is asked
    max_new_tokens: int | None = None  # room per answer; default: the longest trace of the difficulty
    steps: int = 300
    batch_size: int = 32
    micro_batch_size: int | None = None  # sequences per forward/backward pass (None: the whole batch)
    learning_rate: float = 3e-3
    warmup_steps: int | None = None  # None: 30, or a quarter of the steps when that is fewer (as the profiles do)
    seeds: tuple[int, ...] = (0,)
    eval_per_difficulty: int = 50
    file: Path | None = None  # the recipe file it was read from (relative paths were read from its folder)

    def __post_init__(self) -> None:
        knobs.choice("[recipe] kind", self.kind, KINDS)
        knobs.choice("[student] architecture", self.architecture, ARCHITECTURES)
        knobs.choice("[student] size", self.size, tuple(SIZES))
        knobs.choice("profile", self.profile, tuple(PROFILES))
        knobs.whole_number("[recipe] samples_per_prompt", self.samples_per_prompt, 1)
        knobs.number("[recipe] temperature", self.temperature, minimum=0)
        knobs.flag("[recipe] verifier_filter", self.verifier_filter)
        knobs.choice("[recipe] loss", self.loss, tuple(loss for loss in LOSSES if loss != "top_k"))
        knobs.number("[recipe] kd_temperature", self.kd_temperature, above=0)
        knobs.fraction("[recipe] lmbda", self.lmbda)
        knobs.fraction("[recipe] beta", self.beta)
        knobs.whole_number("[data] prompts_per_difficulty", self.prompts_per_difficulty, 1)
        object.__setattr__(self, "difficulties", tuple(world.check_difficulty(d) for d in self.difficulties))
        knobs.choice("[data] prompt_format", self.prompt_format, PROMPT_FORMATS)
        if self.teacher_prompt_format is None:
            object.__setattr__(self, "teacher_prompt_format", self.prompt_format)
        knobs.choice("[teacher] prompt_format", self.teacher_prompt_format, PROMPT_FORMATS)
        if (self.teacher_prompt_format, self.prompt_format) == ("natural", "world"):
            raise ValueError("[teacher] prompt_format = \"natural\" with [data] prompt_format = \"world\": a teacher's "
                             "plain-English answers cannot be rewritten in the world's strict format. Ask the student "
                             "in plain English too (prompt_format = \"natural\")")
        if self.max_new_tokens is not None:
            knobs.whole_number("[data] max_new_tokens", self.max_new_tokens, 1)
        knobs.whole_number("[training] steps", self.steps, 1)
        knobs.whole_number("[training] batch_size", self.batch_size, 1)
        if self.micro_batch_size is not None:
            knobs.whole_number(f"[training] micro_batch_size (from 1 to batch_size = {self.batch_size})",
                               self.micro_batch_size, 1, self.batch_size)
        knobs.number("[training] learning_rate", self.learning_rate, above=0)
        if self.warmup_steps is None:
            object.__setattr__(self, "warmup_steps", min(30, self.steps // 4))
        knobs.whole_number("[training] warmup_steps", self.warmup_steps, 0, self.steps - 1)
        object.__setattr__(self, "seeds", knobs.seeds("[training] seeds", self.seeds))
        knobs.whole_number("[evaluation] per_difficulty", self.eval_per_difficulty, 1)
        if self.kind == "traces" and self.samples_per_prompt > 1 and self.temperature == 0:
            raise ValueError("[recipe] samples_per_prompt > 1 needs a temperature above 0 (greedy samples repeat)")
        if self.kind == "on-policy" and self.prompt_format != "world":
            raise ValueError("[recipe] kind = \"on-policy\" has the student write after prompts of one length per "
                             "batch, which only the world's prompt format gives: use prompt_format = \"world\", or "
                             "kind = \"traces\" or \"logits\"")

    def check_asked_alike(self) -> None:
        """Logits and on-policy recipes score the student's text with the teacher token by token:
        both must be asked the same way. Checked by the run after the tokenizers (which decide first
        whether such a recipe can apply at all), so a pair that fails both hears the deeper reason."""
        if self.kind != "traces" and self.teacher_prompt_format != self.prompt_format:
            raise ValueError(f"[recipe] kind = \"{self.kind}\" scores the student's text with the teacher token by "
                             "token, so both must be asked the same way: give [teacher] prompt_format the value of "
                             "[data] prompt_format, or use kind = \"traces\"")

    def training_config(self, seed: int) -> TrainingConfig:
        return TrainingConfig(num_steps=self.steps, batch_size=self.batch_size, learning_rate=self.learning_rate,
                              warmup_steps=self.warmup_steps, seed=seed, micro_batch_size=self.micro_batch_size)


# Where each key of a recipe file goes: (table, key) -> Recipe field. Top-level keys have table "".
FILE_KEYS = {
    ("", "name"): "name", ("", "output"): "output", ("", "profile"): "profile",
    ("teacher", "path"): "teacher", ("teacher", "prompt_format"): "teacher_prompt_format",
    ("student", "path"): "student_path", ("student", "architecture"): "architecture",
    ("student", "size"): "size", ("student", "tokenizer"): "student_tokenizer",
    ("recipe", "kind"): "kind", ("recipe", "samples_per_prompt"): "samples_per_prompt",
    ("recipe", "temperature"): "temperature", ("recipe", "verifier_filter"): "verifier_filter",
    ("recipe", "loss"): "loss", ("recipe", "kd_temperature"): "kd_temperature",
    ("recipe", "lmbda"): "lmbda", ("recipe", "beta"): "beta",
    ("data", "prompts_per_difficulty"): "prompts_per_difficulty", ("data", "difficulties"): "difficulties",
    ("data", "prompt_format"): "prompt_format", ("data", "max_new_tokens"): "max_new_tokens",
    ("training", "steps"): "steps", ("training", "batch_size"): "batch_size",
    ("training", "micro_batch_size"): "micro_batch_size",
    ("training", "learning_rate"): "learning_rate", ("training", "warmup_steps"): "warmup_steps",
    ("training", "seeds"): "seeds", ("evaluation", "per_difficulty"): "eval_per_difficulty",
}
REQUIRED = ("name", "output", "teacher")


def load_recipe(path: str | Path) -> Recipe:
    """Read a recipe file. A misspelt table or key, a missing one or a bad value is a ValueError
    that names it and says what is allowed."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no recipe file at {path}")
    try:
        tables = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path} is not valid TOML: {error}") from None
    values = {}
    for table, content in tables.items():
        entries = content.items() if isinstance(content, dict) else [(table, content)]
        where = table if isinstance(content, dict) else ""
        for key, value in entries:
            if (where, key) not in FILE_KEYS:
                allowed = sorted(f"[{t}] {k}" if t else k for t, k in FILE_KEYS if t == where) or \
                    sorted({f"[{t}]" for t, _ in FILE_KEYS if t})
                raise ValueError(f"{path}: unknown key {'[' + where + '] ' if where else ''}{key!r}; allowed: "
                                 f"{', '.join(allowed)}")
            values[FILE_KEYS[(where, key)]] = value
    missing = [name for name in REQUIRED if name not in values]
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)} (name, output and [teacher] path are required)")
    if "student_path" not in values and "architecture" not in values:
        raise ValueError(f"{path}: [student] needs a path (a checkpoint) or an architecture ({', '.join(ARCHITECTURES)})")
    here = path.parent
    if not isinstance(values["output"], str):
        raise ValueError(f"{path}: output must be a folder name in quotes (e.g. output = \"runs/mine\"), got "
                         f"{values['output']!r}")
    values["output"] = here / values["output"]
    for name, key in (("teacher", "[teacher] path"), ("student_path", "[student] path")):
        if name in values:
            values[name] = _model_location(path, key, values[name])
    for name in ("difficulties", "seeds"):
        if name in values:
            values[name] = tuple(values[name]) if isinstance(values[name], list) else values[name]
    return Recipe(**values, file=path)


def _model_location(recipe_file: Path, key: str, value) -> str:
    """Where a recipe's model is: "package:" and "home:" locations as they are; any other path
    relative to the recipe file's folder (never the current one). A missing folder is an error that
    says where it looked; an "org/name" missing here is a hub model, which needs HF_HUB_OFFLINE=0."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{recipe_file}: {key} must be a folder in quotes, e.g. \"package:reference/teacher\", "
                         f"got {value!r}")
    if value.startswith((PACKAGE_PREFIX, HOME_PREFIX)):
        return value
    folder = recipe_file.parent / value  # an absolute path stays as it is
    if folder.exists():
        return str(folder)
    if HUB_ID.fullmatch(value):
        return value  # a hub model: `run` downloads it with HF_HUB_OFFLINE=0, else says where it looked (`reachable`)
    raise FileNotFoundError(_not_a_folder(recipe_file, key, value))


def _not_a_folder(recipe_file: Path, key: str, value: str) -> str:
    hub = (f"; if {value!r} is a model on the Hugging Face hub, run with HF_HUB_OFFLINE=0 (the course itself never "
           "downloads)") if HUB_ID.fullmatch(value) else ""
    return (f"{recipe_file}: {key} {value!r} is not a folder: nothing at {(recipe_file.parent / value).resolve()} (a "
            f"relative path is read from the recipe file's folder){hub}")


def reachable(recipe: Recipe) -> None:
    """Before anything loads: a model named by its hub id ("org/name", not a folder beside the
    recipe file) needs downloads allowed (HF_HUB_OFFLINE=0); otherwise say where it was looked for."""
    for key, value in (("[teacher] path", recipe.teacher), ("[student] path", recipe.student_path)):
        if value is not None and HUB_ID.fullmatch(value) and not hub.downloads_allowed():
            raise FileNotFoundError(_not_a_folder(recipe.file or Path("recipe.toml"), key, value))
