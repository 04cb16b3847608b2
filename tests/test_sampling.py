"""Sampling teacher traces: k samples per prompt, each verified; acceptance and cost per accepted trace."""

import pytest

from distillab import world
from distillab.sampling import TraceSamples, sample_traces
from distillab.tokenizer import build_bpe_tokenizer
from distillab.workspace import HALF_BUDGET_TEACHER

TEACHER = HALF_BUDGET_TEACHER  # the one the conftest's teacher fixture loads here


def problems():
    return [p for level in world.held_out_problems(6).values() for p in level]


def test_k_samples_per_prompt_are_verified(teacher):
    model, tokenizer = teacher
    samples = sample_traces(model, tokenizer, problems(), k=3, temperature=1.0)
    assert samples.k == 3 and len(samples.texts) == 30 and all(len(t) == 3 for t in samples.texts)
    for problem, texts, verdicts in zip(samples.problems, samples.texts, samples.correct):
        assert verdicts == [world.is_correct(text, problem) for text in texts]
    assert samples.flops > 0 and samples.generated_tokens > 0
    # acceptance by hand: of the 6 problems x 3 samples of each difficulty, the share the verifier accepted
    by_hand = {d: sum(sum(v) for p, v in zip(samples.problems, samples.correct) if p.difficulty == d) / 18
               for d in world.DIFFICULTIES}
    assert samples.acceptance_by_difficulty() == pytest.approx(by_hand)
    assert 0 < min(by_hand.values()) and max(by_hand.values()) < 1  # at T = 1 this teacher is sometimes wrong


def test_greedy_sampling_is_the_teachers_evaluation_text(teacher):
    model, tokenizer = teacher
    greedy = sample_traces(model, tokenizer, problems(), k=1, temperature=0.0)
    again = sample_traces(model, tokenizer, problems(), k=1, temperature=0.0)
    assert greedy.texts == again.texts


def fake(verdicts):
    ps = world.sample_problems(len(verdicts), 2, seed=0)
    texts = [[f"text {i}-{j}" for j in range(len(v))] for i, v in enumerate(verdicts)]
    return TraceSamples(ps, texts, verdicts, 1.0, 10, 10, 120.0, 1.0)


def test_filter_keeps_first_or_all_correct_or_everything_lists_the_mistakes_and_prices_each():
    samples = fake([[False, True, True], [False, False, False], [True, False, True]])
    assert [text for _, text in samples.traces("first")] == ["text 0-1", "text 2-0"]
    assert [text for _, text in samples.traces("all")] == ["text 0-1", "text 0-2", "text 2-0", "text 2-2"]
    assert [text for _, text in samples.traces("unfiltered")] == ["text 0-0", "text 1-0", "text 2-0"]
    assert [text for _, text in samples.mistakes()] == ["text 0-0", "text 1-0", "text 1-1", "text 1-2", "text 2-1"]
    assert samples.acceptance_by_difficulty() == {2: pytest.approx(4 / 9)} and samples.acceptance == pytest.approx(4 / 9)
    assert samples.flops_per_trace("first") == 60.0 and samples.flops_per_trace("all") == 30.0
    assert fake([[False]]).flops_per_trace() == float("inf")
    with pytest.raises(ValueError, match="keep must be one of"):
        samples.traces("best")


def test_training_set_holds_the_kept_traces_and_refuses_an_empty_one(tokenizer):
    problems = world.sample_problems(3, 2, seed=0)
    texts = [[p.trace, "answer 0"] for p in problems]
    samples = TraceSamples(problems, texts, [[True, False]] * 3, 1.0, 10, 10, 1.0, 1.0)
    assert len(samples.training_set(tokenizer, "first")) == 3
    assert samples.training_set(tokenizer, "unfiltered").sizes() == {2: 3}
    nothing = TraceSamples(problems, texts, [[False, False]] * 3, 1.5, 10, 10, 1.0, 1.0)
    with pytest.raises(ValueError, match="accepted none of the 6 samples \\(temperature 1.5, k = 2\\)"):
        nothing.training_set(tokenizer)


def test_a_student_asked_in_plain_english_gets_its_prompts_and_the_traces_rendered():
    bpe = build_bpe_tokenizer()
    bpe.chat_template = "{% for m in messages %}<user> {{ m['content'] }}{% endfor %} <assistant>"
    problems = world.sample_problems(2, 3, seed=0)
    samples = TraceSamples(problems, [[p.trace] for p in problems], [[True]] * 2, 0.0, 10, 10, 1.0, 1.0)
    data = samples.training_set(bpe, "first", "natural")
    for problem, row, mask in zip(problems, data.input_ids[3], data.completion_mask[3]):
        kept = [i for i in row.tolist() if i != bpe.pad_token_id]
        assert bpe.decode([i for i, m in zip(row.tolist(), mask.tolist()) if m], skip_special_tokens=True) == \
            world.in_plain_english(problem.trace)
        assert bpe.decode(kept, skip_special_tokens=True).startswith(f"<user> {problem.question}")


@pytest.mark.parametrize("k, temperature, message", [
    (0, 1.0, "k \\(samples per prompt\\) must be a whole number >= 1"),
    (2, 0.0, "temperature must be > 0 to sample"),
    (1, -1.0, "temperature must be a number >= 0"),
    (1, float("nan"), "temperature must be a number >= 0"),
    (2, "hot", "temperature must be a number > 0"),
    (2, float("inf"), "temperature must be a number > 0"),
    (1, float("inf"), "temperature must be a number >= 0"),
])
def test_bad_knobs_are_named(teacher, k, temperature, message):
    model, tokenizer = teacher
    with pytest.raises(ValueError, match=message):
        sample_traces(model, tokenizer, problems()[:2], k=k, temperature=temperature)


def test_examples_spread_over_the_prompts_with_their_verdicts():
    from distillab.sampling import TraceSamples

    problems = [world.example_problem(d) for d in (1, 2, 3, 4)]
    samples = TraceSamples(problems, [[p.trace] for p in problems[:3]] + [["answer 0"]], [[True]] * 3 + [[False]], 1.0, 0, 0, 0.0, 0.0)
    shown = samples.examples(2)
    assert shown == [f"{problems[0].prompt}\n  -> {problems[0].trace}   [right]", f"{problems[2].prompt}\n  -> {problems[2].trace}   [right]"]
    assert samples.examples(4)[-1].endswith("-> answer 0   [wrong]")
