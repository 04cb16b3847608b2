"""A pre-flight check of a teacher/student pair, before any recipe trains: do they share a
tokenizer (and how many ids mean the same string in both), their vocabularies, special tokens and
chat templates, how each cuts the same trace, how long the recipe's sequences are and the memory
training takes, and from these which recipes apply and why. Chapter 07 runs it on the course
teacher and SmolLM2; `python -m distillab.doctor TEACHER STUDENT` does the same from a terminal.

Only configs and tokenizers are read (the weights stay on disk), so the check takes seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedTokenizerBase

from distillab import knobs, world
from distillab import tokenizer as tok
from distillab.architectures import HUB_ID, LoraSettings, completion_text, load_checkpoint_tokenizer, prompt_text, quiet_lora
from distillab.recipe_file import KINDS
from distillab.workspace import resolve

BYTES_PER_PARAMETER = {"generation": 4, "full fine-tuning": 16, "LoRA": 4}  # fp32; AdamW keeps 2 moments


@dataclass(frozen=True)
class ModelFacts:
    """What the check reads about one model of the pair."""
    location: str
    architecture: str  # config.model_type
    parameters: int
    lora_parameters: int  # what LoRA adapters of the check's settings would train, counted on this model's layout
    vocabulary: int  # tokens the tokenizer knows
    embedding_rows: int  # config.vocab_size: rows of the embedding and of the logits (may exceed the vocabulary)
    special_tokens: dict[str, str | None]  # bos, eos, pad
    chat_template: bool
    prompt_format: str  # how to ask it: "natural" through its chat template, else the world's terse prompt
    trace_tokens: int  # a 3-step trace, as this model writes it, in its own tokens
    number_pieces: list[str]  # how its tokenizer cuts the number 27
    longest_example: int  # tokens of the longest prompt + completion (5 steps, widest numbers)

    def memory_gb(self, purpose: str, batch_size: int) -> float:
        """Memory for `purpose` ("generation", "full fine-tuning", "LoRA"): the weights (and
        gradients and AdamW moments of what trains, in fp32) plus one batch of logits three
        times over (logits, log-softmax, their gradient). Activations add more."""
        weights = self.parameters * BYTES_PER_PARAMETER[purpose]
        if purpose == "LoRA":
            weights += self.lora_parameters * BYTES_PER_PARAMETER["full fine-tuning"]
        logits = 0 if purpose == "generation" else 3 * 4 * batch_size * self.longest_example * self.embedding_rows
        return (weights + logits) / 1e9


@dataclass(frozen=True)
class PairReport:
    teacher: ModelFacts
    student: ModelFacts
    same_tokenizer: bool  # the same text -> the same ids (tokenizer fingerprints match)
    shared_ids: int  # ids below both vocabularies' sizes that stand for the same string in both
    batch_size: int
    lora: LoraSettings
    recipes: dict[str, tuple[bool, str]]  # kind -> (applies, why)

    def applies(self, kind: str) -> bool:
        return self.recipes[knobs.choice("kind", kind, KINDS)][0]

    def rows(self) -> list[dict]:
        """The facts side by side: one row per fact, a column per model."""
        t, s = self.teacher, self.student
        pieces = lambda facts: " · ".join(facts.number_pieces)  # noqa: E731
        facts = [("architecture", t.architecture, s.architecture),
                 ("parameters", f"{t.parameters:,}", f"{s.parameters:,}"),
                 ("vocabulary (tokens)", f"{t.vocabulary:,}", f"{s.vocabulary:,}"),
                 ("embedding rows (logits per position)", f"{t.embedding_rows:,}", f"{s.embedding_rows:,}"),
                 *((f"{name} token", repr(t.special_tokens[name]), repr(s.special_tokens[name]))
                   for name in t.special_tokens),
                 ("chat template", "yes" if t.chat_template else "no", "yes" if s.chat_template else "no"),
                 ("asked in", t.prompt_format, s.prompt_format),
                 ("'27' is cut into", pieces(t), pieces(s)),
                 ("a 3-step trace, as it writes it (tokens)", t.trace_tokens, s.trace_tokens),
                 ("longest prompt + completion (tokens)", t.longest_example, s.longest_example),
                 ("memory to generate (GB)", f"{t.memory_gb('generation', self.batch_size):.2f}",
                  f"{s.memory_gb('generation', self.batch_size):.2f}"),
                 (f"memory to fine-tune fully, batch {self.batch_size} (GB)", "",
                  f"{s.memory_gb('full fine-tuning', self.batch_size):.2f}"),
                 (f"LoRA rank {self.lora.rank}: trainable parameters", "",
                  f"{s.lora_parameters:,} ({100 * s.lora_parameters / s.parameters:.1f} %)"),
                 (f"memory to fine-tune with LoRA, batch {self.batch_size} (GB)", "",
                  f"{s.memory_gb('LoRA', self.batch_size):.2f}")]
        return [{"": name, "teacher": str(a), "student": str(b)} for name, a, b in facts]

    def verdicts(self) -> list[dict]:
        return [{"recipe": kind, "applies": "yes" if ok else "no", "why": why} for kind, (ok, why) in self.recipes.items()]

    def to_text(self) -> str:
        width = max(len(row[""]) for row in self.rows())
        lines = [f"teacher: {self.teacher.location}", f"student: {self.student.location}",
                 f"same tokenizer: {'yes' if self.same_tokenizer else 'no'} ({self.shared_ids:,} ids stand for the "
                 f"same string in both)", ""]
        lines += [f"{row['']:{width}}  {row['teacher']:>28}  {row['student']:>28}" for row in self.rows()]
        lines += [""] + [f"{row['recipe']:9} {row['applies']:3}  {row['why']}" for row in self.verdicts()]
        return "\n".join(lines)


def _parameters(config, lora: LoraSettings) -> tuple[int, int]:
    """Parameters of a model of `config` (tied weights once), and those LoRA adapters of `lora`
    would train on it, both counted on the meta device: nothing is allocated."""
    from peft import LoraConfig, get_peft_model

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
        total = sum(p.numel() for p in model.parameters())
        with quiet_lora():
            adapted = get_peft_model(model, LoraConfig(r=lora.rank, lora_alpha=lora.alpha, target_modules=lora.targets))
    return total, sum(p.numel() for p in adapted.parameters() if p.requires_grad)


def _pieces(tokenizer: PreTrainedTokenizerBase, text: str) -> list[str]:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return [tokenizer.decode([i]).replace(" ", "␣") for i in ids]


def model_facts(location: str | Path, lora: LoraSettings = LoraSettings()) -> ModelFacts:
    """The facts of the model at `location` (a checkpoint folder, "package:..." or "home:..."), with
    what LoRA adapters of `lora` would train on it."""
    folder = resolve(str(location))
    if HUB_ID.fullmatch(str(location)) and not folder.exists():
        raise FileNotFoundError(f"{location!r} looks like a Hugging Face hub id, and no folder of that name is here: "
                                "the doctor reads local checkpoints only, and the course never downloads. Save the "
                                "model with save_pretrained (or fetch it once with `huggingface-cli download`) and "
                                "pass its folder")
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"no checkpoint at {folder}: expected a folder with config.json and a tokenizer, "
                                "as save_pretrained writes them")
    config = AutoConfig.from_pretrained(folder, local_files_only=True)
    tokenizer = load_checkpoint_tokenizer(folder)
    has_template = bool(getattr(tokenizer, "chat_template", None))
    prompt_format = "natural" if has_template else "world"
    example = world.example_problem(3)
    widest = world.widest_example(5)
    trace = completion_text(example.trace, "world", prompt_format)
    longest = len(tokenizer(prompt_text(widest, tokenizer, prompt_format))["input_ids"]) + len(
        tokenizer(completion_text(widest.trace, "world", prompt_format), add_special_tokens=False)["input_ids"]) + 1
    parameters, lora_parameters = _parameters(config, lora)
    return ModelFacts(
        location=str(location), architecture=config.model_type, parameters=parameters, lora_parameters=lora_parameters,
        vocabulary=len(tokenizer), embedding_rows=config.vocab_size,
        special_tokens={"bos": tokenizer.bos_token, "eos": tokenizer.eos_token, "pad": tokenizer.pad_token},
        chat_template=has_template, prompt_format=prompt_format,
        trace_tokens=len(tokenizer(trace, add_special_tokens=False)["input_ids"]),
        number_pieces=_pieces(tokenizer, "27"), longest_example=longest)


def shared_ids(a: PreTrainedTokenizerBase, b: PreTrainedTokenizerBase) -> int:
    """How many ids stand for the same string in both tokenizers."""
    vocab_a, vocab_b = a.get_vocab(), b.get_vocab()
    return sum(vocab_b.get(token) == index for token, index in vocab_a.items())


def check_pair(teacher: str | Path, student: str | Path, batch_size: int = 8,
               lora: LoraSettings = LoraSettings()) -> PairReport:
    """The pre-flight report of distilling `teacher` into `student` (folders or "package:" /
    "home:" locations) at `batch_size` sequences per step, LoRA at `lora`'s settings."""
    knobs.whole_number("batch_size", batch_size, 1)
    t, s = model_facts(teacher, lora), model_facts(student, lora)
    teacher_tokenizer, student_tokenizer = load_checkpoint_tokenizer(resolve(str(teacher))), load_checkpoint_tokenizer(resolve(str(student)))
    same = tok.fingerprint(teacher_tokenizer) == tok.fingerprint(student_tokenizer)
    recipes = {}
    if (t.prompt_format, s.prompt_format) == ("natural", "world"):
        recipes["traces"] = (False, "the teacher answers in plain English, which cannot be rewritten in the student's "
                                    "terse format; ask the student in plain English")
    elif t.prompt_format != s.prompt_format:
        recipes["traces"] = (True, "text carries over between tokenizers: the teacher's verified traces, rendered in "
                                   "plain English for the student's chat template, become its fine-tuning data")
    else:
        recipes["traces"] = (True, "text carries over: the teacher's verified traces become the student's "
                                   "fine-tuning data, whatever either tokenizer")
    if not same:
        why = (f"needs one tokenizer: the teacher's next-token distribution is over its {t.vocabulary:,} tokens, the "
               f"student's over its {s.vocabulary:,}, and the same text is cut into other pieces at other positions")
        recipes["logits"] = (False, why)
        recipes["on-policy"] = (False, "needs one tokenizer too: the teacher grades every token of the student's "
                                       "text with its own next-token distribution, over other tokens here")
    elif t.embedding_rows != s.embedding_rows:
        recipes["logits"] = (False, f"one tokenizer, but {t.embedding_rows:,} logits per position against "
                                    f"{s.embedding_rows:,}: cut both to the {min(t.vocabulary, s.vocabulary):,} real tokens first")
        recipes["on-policy"] = recipes["logits"]
    else:
        recipes["logits"] = (True, "one tokenizer: the teacher's distribution at every position matches the student's")
        recipes["on-policy"] = (True, "one tokenizer: the teacher can grade every token the student writes") \
            if t.prompt_format == s.prompt_format == "world" else \
            (False, "the recipe command's on-policy student writes after prompts of one length per batch, which only "
                    "the world's format gives")
    return PairReport(t, s, same, shared_ids(teacher_tokenizer, student_tokenizer), batch_size, lora, recipes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m distillab.doctor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("teacher", help="the teacher's checkpoint folder (or package:reference/teacher)")
    parser.add_argument("student", help="the student's checkpoint folder")
    parser.add_argument("--batch-size", type=int, default=8, help="sequences per training step (for the memory)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        report = check_pair(args.teacher, args.student, args.batch_size)
    except (ValueError, OSError) as error:
        print(f"distillab.doctor: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"facts": report.rows(), "recipes": report.verdicts(), "same_tokenizer": report.same_tokenizer,
                          "shared_ids": report.shared_ids}, indent=1))
    else:
        print(report.to_text())
    return 0


if __name__ == "__main__":
    from distillab.runtime import run_command

    sys.exit(run_command(main, "distillab.doctor"))
