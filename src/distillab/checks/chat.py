"""Checks for lab 07 · Teach a chat model from a teacher's traces: the teacher's terse trace as a
plain-English reply, and one fine-tuning example in a chat model's own template, its loss masked
to the reply. The wrong versions named are the ones practitioners ship: the loss on the prompt,
no end-of-turn token (or one outside the mask), the reply rendered as a finished conversation,
no assistant header, the model's default system prompt on every example, a mask one token off."""

from __future__ import annotations

from dataclasses import dataclass

from distillab import world
from distillab.checks import Case, CheckResult, WrongKind, explain, run_cases

TAGS = "Drop the think tags: a chat model's reply is plain English, the tags mean nothing to it."
SPACES = ("Only the spaces differ: one space between sentences, none before a full stop, none at the start or "
          "the end.")
DROPPED = ("You dropped the reasoning: the steps are what the student learns from. Render every step as it is "
           "written, each one a sentence ending in a full stop ('6 - 2 = 4.'), then 'The answer is N.'")


def check_render_reply(render_reply) -> CheckResult:
    """`render_reply(trace)`: a verified trace in the world's format as a plain-English reply."""
    cases = [
        Case("one step", ("<think> 6 - 2 = 4 </think> answer 4",), "6 - 2 = 4. The answer is 4.", mistakes=[
            ("6 - 2 = 4 The answer is 4.", "End each step with a full stop: '6 - 2 = 4.'"),
            ("6 - 2 = 4. The answer is 4", "End the reply with a full stop: 'The answer is 4.'"),
            ("<think> 6 - 2 = 4 </think> The answer is 4.", TAGS),
            ("The answer is 4.", DROPPED)]),
        Case("three steps", ("<think> 6 - 2 = 4 . 4 + 5 = 9 . 9 + 3 = 12 </think> answer 12",),
             "6 - 2 = 4. 4 + 5 = 9. 9 + 3 = 12. The answer is 12.", mistakes=[
                 ("6 - 2 = 4 . 4 + 5 = 9 . 9 + 3 = 12. The answer is 12.",
                  "Each ' . ' between steps becomes '. ' (the full stop joins the step before it)."),
                 ("The answer is 12.", DROPPED)]),
        Case("a step written wrongly is kept as written (the answer is right)",
             ("<think> 6 - 2 = 5 . 4 + 5 = 9 </think> answer 9",), "6 - 2 = 5. 4 + 5 = 9. The answer is 9.",
             mistakes=[("6 - 2 = 4. 4 + 5 = 9. The answer is 9.",
                        "Render the text, do not recompute it: the student learns what the teacher wrote.")]),
        Case("answers only", ("answer 7",), "The answer is 7.", mistakes=[
            (". The answer is 7.", "With no steps there is nothing before 'The answer is 7.'"),
            (" The answer is 7.", "With no steps there is nothing before 'The answer is 7.': no leading space.")]),
    ]
    return run_cases("render_reply", render_reply, cases, describe=_reply_difference)


def _reply_difference(got, expected: str) -> str:
    """Near-misses of the named mistakes: the tags kept in another form, spaces off."""
    if not isinstance(got, str):
        return explain(got, expected)
    if "<think>" in got or "</think>" in got:
        return TAGS
    if " ".join(got.replace(" .", ".").split()) == expected:
        return SPACES
    steps, ending = expected.rsplit("The answer is", 1)
    if got.startswith(steps) and not got.removeprefix(steps).startswith("The answer is"):
        return (f"The steps are right; end with the course's words, 'The answer is{ending}': every reply the model "
                "learns ends the same way, which the verifier and the chapter's prompts expect.")
    return ""


# The wrong versions of chat_example the check names, each as the function a learner writes.
def _prompt(tokenizer, question: str, system: bool = True, generation_prompt: bool = True) -> str:
    messages = ([{"role": "system", "content": ""}] if system else []) + [{"role": "user", "content": question}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def reference_chat_example(tokenizer, question: str, reply: str) -> tuple[list[int], list[bool]]:
    """The right answer: prompt ids, reply ids, the end-of-turn id; the mask on the reply and EOS."""
    prompt = tokenizer(_prompt(tokenizer, question), add_special_tokens=False)["input_ids"]
    answer = tokenizer(reply, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return prompt + answer, [False] * len(prompt) + [True] * len(answer)


def _whole_conversation(tokenizer, question, reply):
    text = tokenizer.apply_chat_template([{"role": "system", "content": ""}, {"role": "user", "content": question},
                                          {"role": "assistant", "content": reply}], tokenize=False)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    prompt = len(tokenizer(_prompt(tokenizer, question), add_special_tokens=False)["input_ids"])
    return ids, [False] * prompt + [True] * (len(ids) - prompt)


def _with(transform):
    def wrong(tokenizer, question, reply):
        ids, mask = reference_chat_example(tokenizer, question, reply)
        return transform(tokenizer, question, reply, ids, mask)
    return wrong


def _without_system(tokenizer, question, reply):
    prompt = tokenizer(_prompt(tokenizer, question, system=False), add_special_tokens=False)["input_ids"]
    answer = tokenizer(reply, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return prompt + answer, [False] * len(prompt) + [True] * len(answer)


def _no_header(tokenizer, question, reply):
    prompt = tokenizer(_prompt(tokenizer, question, generation_prompt=False), add_special_tokens=False)["input_ids"]
    answer = tokenizer(reply, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return prompt + answer, [False] * len(prompt) + [True] * len(answer)


WRONG_VERSIONS = [
    (_with(lambda t, q, r, ids, mask: (ids, [True] * len(ids))),
     "Your mask covers the prompt too: the loss then trains the model to write the user's question and the "
     "template's headers. Mask only the reply and the end-of-turn token (False on every prompt token)."),
    (_with(lambda t, q, r, ids, mask: (ids[:-1], mask[:-1])),
     "You left out the end-of-turn token (tokenizer.eos_token_id, '<|im_end|>'): the model never learns to stop "
     "and runs on until max_new_tokens. Append it after the reply, inside the mask."),
    (_with(lambda t, q, r, ids, mask: (ids, mask[:-1] + [False])),
     "The end-of-turn token is outside the mask: the model sees it but is never trained to write it, so it "
     "does not learn to stop. Put the EOS inside the mask."),
    (_whole_conversation,
     "You rendered the reply inside the template as an assistant message: the template then writes '\\n' after "
     "'<|im_end|>', a token the model would be trained to write after every answer. Render the prompt with "
     "add_generation_prompt=True, then append the reply's tokens and EOS yourself."),
    (_no_header,
     "The prompt has no assistant header ('<|im_start|>assistant\\n'): at generation time the prompt ends with it, "
     "so train on what generation will see: apply_chat_template(..., add_generation_prompt=True)."),
    (_without_system,
     "Your prompt starts with SmolLM2's default system prompt ('You are a helpful AI assistant named SmolLM, ...', "
     "16 tokens on every example): give the template an empty system message first, as the chapter does."),
    (_with(lambda t, q, r, ids, mask: (ids, mask[1:] + [True])),
     "Your mask starts one token early: it covers the last token of the prompt. The first True is the reply's "
     "first token."),
    (_with(lambda t, q, r, ids, mask: (ids, [False] + mask[:-1])),
     "Your mask starts one token late: the reply's first token is not trained. The first True is the reply's "
     "first token, the last is the EOS."),
]


@dataclass(frozen=True)
class Example:
    """One fine-tuning example as the check compares it: its token ids and its loss mask."""
    ids: tuple[int, ...]
    mask: tuple[bool, ...]

    def __repr__(self) -> str:
        return f"{len(self.ids)} ids, {sum(self.mask)} of them in the mask"


def _example(ids, mask) -> Example:
    return Example(tuple(ids), tuple(bool(m) for m in mask))


def _as_example(result) -> Example:
    if not isinstance(result, tuple) or len(result) != 2:
        raise WrongKind(f"returned {type(result).__name__}; return a pair (input_ids, mask): two lists")
    ids, mask = (value.tolist() if hasattr(value, "tolist") else value for value in result)
    if not isinstance(ids, list) or not isinstance(mask, list):
        raise WrongKind("return two lists (or tensors): the token ids, and the mask of the same length")
    if any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
        raise WrongKind("input_ids must be whole numbers (token ids): tokenize the texts, do not return them")
    if len(ids) != len(mask):
        raise WrongKind(f"input_ids has {len(ids)} tokens but the mask {len(mask)}: one mask entry per token")
    return _example(ids, mask)


def _token(tokenizer, ids: tuple[int, ...], position: int) -> str:
    if position >= len(ids):
        return "nothing (it has ended)"
    return f"{tokenizer.decode([ids[position]])!r} (id {ids[position]})"


def difference(tokenizer, got: Example, expected: Example) -> str:
    """Where `got` first parts from `expected`, decoded, and how their masks compare: for a mistake
    the check has no name for."""
    if not isinstance(got, Example):
        return ""
    parts = []
    ids = next((i for i, (a, b) in enumerate(zip(got.ids, expected.ids)) if a != b),
               None if len(got.ids) == len(expected.ids) else min(len(got.ids), len(expected.ids)))
    if ids is not None:
        before = tokenizer.decode(list(expected.ids[max(0, ids - 8):ids]))
        parts.append(f"The ids first differ at position {ids} of {len(expected.ids)}, after {before!r}: yours has "
                     f"{_token(tokenizer, got.ids, ids)}, the right example {_token(tokenizer, expected.ids, ids)}.")
    elif got.mask != expected.mask:
        at = next(i for i, (a, b) in enumerate(zip(got.mask, expected.mask)) if a != b)
        parts.append(f"The ids are right; the mask first differs at position {at}, on "
                     f"{_token(tokenizer, expected.ids, at)}: yours says {got.mask[at]}, the right one "
                     f"{expected.mask[at]}.")
    counts = lambda mask: f"{sum(mask)} True and {len(mask) - sum(mask)} False"  # noqa: E731
    if got.mask != expected.mask:
        parts.append(f"Your mask has {counts(got.mask)}; the right one {counts(expected.mask)}.")
    return " ".join(parts)


def check_chat_example(chat_example, tokenizer) -> CheckResult:
    """`chat_example(tokenizer, question, reply)`: (input_ids, mask) of one fine-tuning example."""
    questions = [(world.sample_problems(1, d, seed=11)[0]) for d in (1, 3)]
    cases = []
    for problem in questions:
        reply = world.in_plain_english(problem.trace)
        args = (tokenizer, problem.question, reply)
        right = _example(*reference_chat_example(*args))
        mistakes = [(_example(*wrong(*args)), why) for wrong, why in WRONG_VERSIONS]
        cases.append(Case(f"a {problem.difficulty}-step problem", args, right,
                          mistakes=[(wrong, why) for wrong, why in mistakes if wrong != right],
                          shown=f"tokenizer, {problem.question[:40]!r}..., {reply[:30]!r}..."))
    return run_cases("chat_example", chat_example, cases, convert=_as_example,
                     describe=lambda got, expected: difference(tokenizer, got, expected))
