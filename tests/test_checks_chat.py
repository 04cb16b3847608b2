"""Lab 07's checks name the mistakes learners make when they render a trace as a chat model's reply
and build a fine-tuning example in its chat template: each wrong version below is caught, and the
message says what it got wrong."""

import pytest
import torch

from distillab import world
from distillab.checks.chat import check_chat_example, check_render_reply


@pytest.fixture(scope="module")
def chat_tokenizer(real_model_folder):
    from distillab.architectures import load_checkpoint_tokenizer

    return load_checkpoint_tokenizer(real_model_folder)


def test_the_package_renders_replies_right():
    assert check_render_reply(world.in_plain_english).passed


def answer_only(trace):
    return f"The answer is {world.parse_answer(trace)}."


def recomputed(trace):  # solves the problem again instead of rendering the text
    steps = trace.split("</think>")[0].replace("<think>", "").split(" . ") if "<think>" in trace else []
    out, value = [], None
    for step in steps:
        a, sign, b, _, _ = step.split()
        value = (int(a) if value is None else value) + (int(b) if sign == "+" else -int(b))
        out.append(f"{a if len(out) == 0 else out[-1].split()[-1].rstrip('.')} {sign} {b} = {value}.")
    return " ".join(out + [f"The answer is {world.parse_answer(trace)}."])


def tags_kept(trace):
    reasoning, answer = trace.rsplit("answer", 1)
    return f"{reasoning.strip()} The answer is {answer.strip()}."


@pytest.mark.parametrize("wrong, named", [
    (answer_only, "You dropped the reasoning"),
    (recomputed, "Render the text, do not recompute it"),
    (tags_kept, "Drop the think tags"),
])
def test_render_reply_names_each_wrong_version(wrong, named):
    result = check_render_reply(wrong)
    assert not result.passed and named in result.message, result.message


def right(tokenizer, question, reply):
    prompt = tokenizer.apply_chat_template([{"role": "system", "content": ""}, {"role": "user", "content": question}],
                                           tokenize=False, add_generation_prompt=True)
    p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    r = tokenizer(reply, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return p + r, [False] * len(p) + [True] * len(r)


def mask_everything(tokenizer, question, reply):
    ids, mask = right(tokenizer, question, reply)
    return ids, [True] * len(ids)


def no_eos(tokenizer, question, reply):
    ids, mask = right(tokenizer, question, reply)
    return ids[:-1], mask[:-1]


def eos_unmasked(tokenizer, question, reply):
    ids, mask = right(tokenizer, question, reply)
    return ids, mask[:-1] + [False]


def assistant_message(tokenizer, question, reply):
    messages = [{"role": "system", "content": ""}, {"role": "user", "content": question},
                {"role": "assistant", "content": reply}]
    ids = tokenizer.apply_chat_template(messages, tokenize=True)
    ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
    prompt_length = len(right(tokenizer, question, "")[0]) - 1
    return list(ids), [False] * prompt_length + [True] * (len(ids) - prompt_length)


def no_generation_prompt(tokenizer, question, reply):
    prompt = tokenizer.apply_chat_template([{"role": "system", "content": ""}, {"role": "user", "content": question}],
                                           tokenize=False)
    p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    r = tokenizer(reply, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return p + r, [False] * len(p) + [True] * len(r)


def default_system_prompt(tokenizer, question, reply):
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                           add_generation_prompt=True)
    p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    r = tokenizer(reply, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return p + r, [False] * len(p) + [True] * len(r)


def mask_early(tokenizer, question, reply):
    ids, mask = right(tokenizer, question, reply)
    return ids, mask[1:] + [True]


def mask_late(tokenizer, question, reply):
    ids, mask = right(tokenizer, question, reply)
    return ids, [False] + mask[:-1]


def as_tensors(tokenizer, question, reply):  # tensors and 0/1 masks are fine
    ids, mask = right(tokenizer, question, reply)
    return torch.tensor(ids), torch.tensor(mask, dtype=torch.long)


def test_the_right_version_passes_as_lists_or_tensors(chat_tokenizer):
    assert check_chat_example(right, chat_tokenizer).passed
    assert check_chat_example(as_tensors, chat_tokenizer).passed


@pytest.mark.parametrize("wrong, named", [
    (mask_everything, "Your mask covers the prompt too"),
    (no_eos, "You left out the end-of-turn token"),
    (eos_unmasked, "The end-of-turn token is outside the mask"),
    (assistant_message, "rendered the reply inside the template as an assistant message"),
    (no_generation_prompt, "The prompt has no assistant header"),
    (default_system_prompt, "default system prompt"),
    (mask_early, "Your mask starts one token early"),
    (mask_late, "Your mask starts one token late"),
])
def test_chat_example_names_each_wrong_version(chat_tokenizer, wrong, named):
    result = check_chat_example(wrong, chat_tokenizer)
    assert not result.passed and named in result.message, result.message


def test_a_result_of_the_wrong_shape_is_explained(chat_tokenizer):
    result = check_chat_example(lambda tokenizer, question, reply: "text", chat_tokenizer)
    assert not result.passed and "return a pair (input_ids, mask)" in result.message
    result = check_chat_example(lambda tokenizer, question, reply: ([1, 2], [True]), chat_tokenizer)
    assert "one mask entry per token" in result.message


def _prompt(tokenizer, messages):
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _with_prompt(tokenizer, prompt, reply, end=None):
    r = tokenizer(reply, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id if end is None else end]
    return prompt + r, [False] * len(prompt) + [True] * len(r)


def role_human(tokenizer, question, reply):
    return _with_prompt(tokenizer, _prompt(tokenizer, [{"role": "system", "content": ""},
                                                       {"role": "human", "content": question}]), reply)


def own_system_message(tokenizer, question, reply):
    return _with_prompt(tokenizer, _prompt(tokenizer, [{"role": "system", "content": "You are good at sums."},
                                                       {"role": "user", "content": question}]), reply)


def start_token_to_end(tokenizer, question, reply):
    ids, _ = right(tokenizer, question, "")
    return _with_prompt(tokenizer, ids[:-1], reply, end=tokenizer.convert_tokens_to_ids("<|im_start|>"))


def inverted_mask(tokenizer, question, reply):
    ids, mask = right(tokenizer, question, reply)
    return ids, [not m for m in mask]


@pytest.mark.parametrize("wrong, shown", [
    (role_human, "'human'"),
    (own_system_message, "'You'"),
    (start_token_to_end, "'<|im_start|>'"),
])
def test_an_unnamed_mistake_shows_where_the_ids_first_differ_decoded(chat_tokenizer, wrong, shown):
    result = check_chat_example(wrong, chat_tokenizer)
    assert not result.passed and "first differ at position" in result.message and shown in result.message, \
        result.message


def test_an_unnamed_mask_mistake_shows_the_counts_against_the_expected(chat_tokenizer):
    result = check_chat_example(inverted_mask, chat_tokenizer)
    assert "The ids are right; the mask first differs at position 0" in result.message, result.message
    assert "True and" in result.message and "the right one" in result.message


@pytest.mark.parametrize("wrong, named", [
    (lambda trace: world.in_plain_english(trace).replace(". ", ".  "), "Only the spaces differ"),
    (lambda trace: world.in_plain_english(trace) + " ", "Only the spaces differ"),
    (lambda trace: "<think> " + world.in_plain_english(trace), "Drop the think tags"),
])
def test_near_misses_of_a_named_reply_mistake_get_its_hint(wrong, named):
    result = check_render_reply(wrong)
    assert not result.passed and named in result.message, result.message


def test_other_words_for_the_answer_are_named():
    result = check_render_reply(lambda trace: world.in_plain_english(trace).replace("The answer is", "Answer:"))
    assert not result.passed and "end with the course's words, 'The answer is 4.'" in result.message, result.message
