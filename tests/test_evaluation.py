import pytest

from distillab import world
from distillab.evaluation import evaluate, majority_answer, vote_at_k
from distillab.sampling import max_new_tokens_for
from distillab.models import build_model, load_model
from distillab.sampling import generate
from distillab.workspace import REFERENCE_TEACHER

needs_reference = pytest.mark.skipif(not (REFERENCE_TEACHER / "model.safetensors").is_file(),
                                     reason="the reference teacher has not been trained yet")


def test_max_new_tokens_fits_the_longest_trace():
    for d in world.DIFFICULTIES:
        problem = world.sample_problems(1, d, seed=0)[0]
        assert max_new_tokens_for(d) >= len(problem.trace.split()) + 1  # + [EOS]


def test_batched_left_padded_generation_equals_one_at_a_time(tokenizer):
    model = build_model("tiny", tokenizer, seed=2)
    prompts = [world.sample_problems(1, d, seed=1)[0].prompt for d in (1, 3, 5)]
    batched = generate(model, tokenizer, prompts, max_new_tokens=8).texts
    alone = [generate(model, tokenizer, [p], max_new_tokens=8).texts[0] for p in prompts]
    assert batched == alone


def test_kv_cache_does_not_change_greedy_output(tokenizer):
    model = build_model("tiny", tokenizer, seed=2)
    prompts = [p.prompt for p in world.sample_problems(4, 2, seed=1)]
    cached = generate(model, tokenizer, prompts, max_new_tokens=10, use_cache=True)
    uncached = generate(model, tokenizer, prompts, max_new_tokens=10, use_cache=False)
    assert cached.texts == uncached.texts


def test_bad_generation_knobs(tokenizer):
    model = build_model("tiny", tokenizer)
    with pytest.raises(ValueError, match="temperature must be a number >= 0"):
        generate(model, tokenizer, ["answer"], max_new_tokens=2, temperature=-1)
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(model, tokenizer, ["answer"], max_new_tokens=0)


def test_untrained_model_scores_near_zero(tokenizer):
    model = build_model("tiny", tokenizer)
    result = evaluate(model, tokenizer, world.held_out_problems(5))
    assert set(result.accuracy) == set(world.DIFFICULTIES)
    assert result.mean_accuracy < 0.2 and result.flops > 0 and result.num_problems == 25


@needs_reference
def test_reference_teacher_solves_held_out_problems():
    model, tokenizer, provenance = load_model(REFERENCE_TEACHER)
    result = evaluate(model, tokenizer, world.held_out_problems(20))
    assert all(result.accuracy[d] >= 0.9 for d in (1, 2, 3, 4)), result.accuracy
    assert provenance.profile == "standard"


def test_generating_with_a_mismatched_tokenizer_is_a_clear_error(tokenizer):
    from distillab.tokenizer import build_tokenizer

    model = build_model("tiny", build_tokenizer(["answer", "1"]))
    with pytest.raises(ValueError, match="tokenizer has .* tokens but the model has embeddings for"):
        generate(model, tokenizer, ["answer"], max_new_tokens=2)


def test_majority_answer_counts_clear_answers_and_breaks_ties_by_order():
    assert majority_answer(["answer 3", "answer 4", "answer 4", "no answer here"]) == 4
    assert majority_answer(["answer 3", "answer 4"]) == 3  # a tie: the first answer given wins
    assert majority_answer(["answer", "", "answer nine"]) is None
    assert majority_answer(["answer 0", "answer 5", "answer 0"]) == 0  # 0 is an answer, not "nothing"


@needs_reference
def test_vote_at_k_is_nested_and_priced_per_sample():
    model, tokenizer, _ = load_model(REFERENCE_TEACHER)
    problems = world.held_out_problems(4)
    curve = vote_at_k(model, tokenizer, problems, ks=(4, 1, 2), temperature=1.0)
    assert curve.ks == [1, 2, 4] and set(curve.accuracy[1]) == set(world.DIFFICULTIES)
    assert curve.flops[4] == pytest.approx(4 * curve.flops[1]) and curve.flops[1] > 0
    assert curve.mean_accuracy(4) > 0.8  # the reference teacher is right on nearly every sample
    with pytest.raises(ValueError, match="k \\(samples per prompt\\) must be a whole number"):
        vote_at_k(model, tokenizer, problems, ks=(0, 2))
    with pytest.raises(ValueError, match="temperature must be > 0 to sample"):
        vote_at_k(model, tokenizer, problems, ks=(1, 2), temperature=0)
