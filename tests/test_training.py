import dataclasses
import math

import pytest
import torch

from distillab import world
from distillab.models import build_model
from distillab.training import BatchSampler, TrainingConfig, TrainingSet, sft_objective, train


@pytest.fixture(scope="module")
def data(tokenizer):
    problems = {d: world.sample_problems(40, d, seed=7) for d in (1, 2, 3)}
    return TrainingSet.from_problems(problems, tokenizer)


def test_completion_mask_covers_exactly_the_completion(data, tokenizer):
    ids, mask = data.input_ids[2][0], data.completion_mask[2][0]
    text = tokenizer.decode(ids[mask], skip_special_tokens=False)
    assert text.startswith("<think>") and text.endswith("[EOS]")
    assert tokenizer.decode(ids[~mask], skip_special_tokens=True).endswith("how many ?")


def test_batches_hold_one_difficulty_and_no_padding(data, tokenizer):
    sampler = BatchSampler(data, batch_size=8, seed=0)
    seen = set()
    for _ in range(30):
        batch = sampler.next_batch()
        seen.add(batch["difficulty"])
        assert batch["input_ids"].shape == (8, data.input_ids[batch["difficulty"]].shape[1])
        assert not (batch["input_ids"] == tokenizer.pad_token_id).any()
    assert seen == {1, 2, 3}


def test_schedule_warms_up_and_ends_exactly_at_the_budget(data, tokenizer):
    model = build_model("tiny", tokenizer)
    history = train(model, data, TrainingConfig(num_steps=12, batch_size=4, warmup_steps=3,
                                                learning_rate=1e-3), progress=False)
    assert history.step == list(range(1, 13))
    assert history.lr[0] == 0.0 and history.lr[3] == pytest.approx(1e-3)
    # the last step runs at the tail of the cosine, which would reach 0 one step later
    assert history.lr[-1] == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi * 8 / 9)))
    assert all(a > b for a, b in zip(history.lr[3:], history.lr[4:]))
    assert history.tokens == sorted(history.tokens) and history.flops[-1] > 0


def test_same_seed_same_run(data, tokenizer):
    runs = []
    for _ in range(2):
        model = build_model("tiny", tokenizer, seed=0)
        runs.append(train(model, data, TrainingConfig(num_steps=5, batch_size=8, warmup_steps=1, seed=4),
                          progress=False).loss)
    assert runs[0] == runs[1]


def test_gradient_checkpointing_gives_the_same_run_for_one_more_forward_pass(data, tokenizer):
    runs = {}
    for checkpointing in (False, True):
        model = build_model("tiny", tokenizer, seed=0)
        runs[checkpointing] = train(model, data, TrainingConfig(num_steps=4, batch_size=8, warmup_steps=1,
                                                                gradient_checkpointing=checkpointing), progress=False)
    assert runs[True].loss == pytest.approx(runs[False].loss, rel=1e-5)
    # the backward pass runs each layer's forward again: more FLOPs, fewer than a second whole forward
    assert runs[False].total_flops < runs[True].total_flops < 4 / 3 * runs[False].total_flops


def test_micro_batches_give_the_steps_of_the_whole_batch(data, tokenizer):
    runs = {}
    for micro in (None, 3):  # 8 sequences a step: parts of 3, 3 and 2
        model = build_model("tiny", tokenizer, seed=0)
        runs[micro] = train(model, data, TrainingConfig(num_steps=4, batch_size=8, warmup_steps=1, micro_batch_size=micro),
                            progress=False)
    assert runs[3].loss == pytest.approx(runs[None].loss, rel=1e-5)
    assert runs[3].total_tokens == runs[None].total_tokens


def test_a_part_with_no_counted_token_adds_nothing():
    from distillab.training import micro_batches

    mask = torch.tensor([[0, 1, 1], [0, 0, 0], [0, 0, 1]], dtype=torch.bool)
    batch = {"input_ids": torch.zeros(3, 3, dtype=torch.long), "completion_mask": mask, "difficulty": 2}
    parts = list(micro_batches(batch, 1))
    assert [share for _, share in parts] == [pytest.approx(2 / 3), pytest.approx(1 / 3)]
    assert all(part["difficulty"] == 2 and len(part["input_ids"]) == 1 for part, _ in parts)
    assert list(micro_batches(batch, None)) == [(batch, 1.0)]


def test_a_model_that_cannot_recompute_its_activations_is_named(data):
    from distillab.training import checkpointed

    with pytest.raises(ValueError, match="Linear cannot recompute its activations"):
        checkpointed(torch.nn.Linear(2, 2))


def test_training_lowers_the_loss(data, tokenizer):
    model = build_model("tiny", tokenizer)
    history = train(model, data, TrainingConfig(num_steps=40, batch_size=16, warmup_steps=5,
                                                learning_rate=3e-3), progress=False)
    assert sum(history.loss[-5:]) / 5 < 0.75 * sum(history.loss[:5]) / 5


def test_sft_objective_scores_only_completion_targets(data, tokenizer):
    model = build_model("tiny", tokenizer)
    batch = BatchSampler(data, 4, seed=0).next_batch()
    ids, mask = batch["input_ids"], batch["completion_mask"]
    log_probs = torch.log_softmax(model(input_ids=ids[:, :-1]).logits, dim=-1)  # (B, T-1, V)
    target_log_probs = log_probs.gather(-1, ids[:, 1:, None])[..., 0]  # (B, T-1)
    reference = -target_log_probs[mask[:, 1:]].mean()
    assert torch.allclose(sft_objective(model, batch), reference)
    assert mask[:, 1:].sum() < mask[:, 1:].numel()  # some targets (the prompt's) are left out


@pytest.mark.parametrize("knobs, message", [
    ({"num_steps": -5}, "num_steps must be a whole number >= 1"),
    ({"num_steps": 0}, "num_steps must be a whole number >= 1"),
    ({"batch_size": 0}, "batch_size must be a whole number >= 1"),
    ({"warmup_steps": 10}, "warmup_steps \\(from 0 to num_steps - 1 = 9\\) must be a whole number >= 0 and <= 9, got 10"),
    ({"learning_rate": -1.0}, "learning_rate must be a finite number > 0"),
    ({"learning_rate": "3e-3"}, "learning_rate must be a finite number > 0, got '3e-3' \\(a number, not the text"),
    ({"grad_clip": -1.0}, "grad_clip .* must be a finite number > 0"),
    ({"grad_clip": 0}, "grad_clip .* must be a finite number > 0"),
    ({"weight_decay": -0.1}, "weight_decay must be a finite number >= 0"),
    ({"mix": "tokens "}, "mix must be one of"),
    ({"seed": 1.5}, "seed must be a whole number"),
    ({"gradient_checkpointing": 1}, "gradient_checkpointing must be one of \\(True, False\\)"),
    ({"micro_batch_size": 5}, "micro_batch_size \\(from 1 to batch_size = 4, or None\\) must be a whole number >= 1 and <= 4"),
])
def test_bad_knobs_are_named(knobs, message):
    with pytest.raises(ValueError, match=message):
        TrainingConfig(**{"num_steps": 10, "batch_size": 4, "warmup_steps": 2, **knobs})


def test_empty_training_set_is_a_clear_error(tokenizer):
    with pytest.raises(ValueError, match="training set is empty"):
        TrainingSet.from_texts({}, tokenizer)


def test_data_from_another_tokenizer_is_a_clear_error(data):
    from distillab.tokenizer import build_tokenizer

    small_vocab = build_tokenizer(["answer", "1"])
    model = build_model("tiny", small_vocab)
    with pytest.raises(ValueError, match="tokenized with another tokenizer"):
        train(model, data, TrainingConfig(num_steps=2, batch_size=2, warmup_steps=0), progress=False)
    del model.config.tokenizer_fingerprint  # a model that does not say which tokenizer it reads
    with pytest.raises(ValueError, match="vocabulary has only 6 tokens"):
        train(model, data, TrainingConfig(num_steps=2, batch_size=2, warmup_steps=0), progress=False)


def test_completions_of_another_length_are_padded_outside_the_mask(tokenizer):
    problem = world.sample_problems(1, 2, seed=3)[0]
    short = problem.trace.split()
    pairs = {2: [(problem.prompt, problem.trace), (problem.prompt, " ".join(short[:4]))]}
    data = TrainingSet.from_texts(pairs, tokenizer)
    ids, mask = data.input_ids[2], data.completion_mask[2]
    assert ids.shape[0] == 2 and not (ids[0] == tokenizer.pad_token_id).any()
    padding = ids[1] == tokenizer.pad_token_id
    assert padding.sum() == len(short) - 4 and not (mask[1] & padding).any()
    assert mask[1].sum() == 4 + 1  # four completion tokens and [EOS]
    assert data.tokenizer_fingerprint is not None


def test_batches_can_be_drawn_in_proportion_to_tokens(tokenizer):
    problems = {1: world.sample_problems(50, 1, seed=7), 5: world.sample_problems(50, 5, seed=7)}
    data = TrainingSet.from_problems(problems, tokenizer)
    drawn = {}
    for mix in ("examples", "tokens"):
        sampler = BatchSampler(data, batch_size=4, seed=0, mix=mix)
        picks = [sampler.next_batch()["difficulty"] for _ in range(2000)]
        drawn[mix] = picks.count(5) / len(picks)
    tokens = {d: int(data.completion_mask[d].sum()) for d in (1, 5)}
    assert abs(drawn["examples"] - 0.5) < 0.04
    assert abs(drawn["tokens"] - tokens[5] / (tokens[1] + tokens[5])) < 0.04
    with pytest.raises(ValueError, match="mix must be one of"):
        TrainingConfig(num_steps=2, batch_size=2, warmup_steps=0, mix="difficulty")


class StopAt:
    """A batch source that presses Ctrl-C (sends SIGINT to this process) as step `at` begins."""

    def __init__(self, sampler, at):
        self.sampler, self.at, self.calls = sampler, at, 0

    def next_batch(self):
        self.calls += 1
        if self.calls == self.at:
            import os
            import signal

            os.kill(os.getpid(), signal.SIGINT)
        return self.sampler.next_batch()

    def state_dict(self):
        return self.sampler.state_dict()

    def load_state_dict(self, state):
        self.sampler.load_state_dict(state)


def test_ctrl_c_ends_training_cleanly_and_resuming_gives_the_uninterrupted_run(data, tokenizer):
    config = TrainingConfig(num_steps=12, batch_size=8, warmup_steps=2, seed=3)
    whole_model = build_model("tiny", tokenizer, seed=3)
    whole = train(whole_model, data, config, progress=False)
    model = build_model("tiny", tokenizer, seed=3)
    stopped = train(model, data, config, progress=False,
                    batches=StopAt(BatchSampler(data, config.batch_size, config.seed, config.mix), at=5))
    assert stopped.interrupted and stopped.completed_steps == 5 and stopped.resume is not None
    assert stopped.loss == whole.loss[:5]  # the step in progress was finished, not torn apart
    state = stopped.resume
    finished = train(model, data, config, progress=False, resume=state)
    assert not finished.interrupted and finished.completed_steps == 12 and finished.step == list(range(1, 13))
    assert finished.loss == whole.loss  # the same batches and updates: identical on the CPU
    assert finished.total_flops == pytest.approx(whole.total_flops)
    for (name, a), b in zip(model.named_parameters(), whole_model.parameters()):
        assert torch.equal(a, b), name
    with pytest.raises(ValueError, match="completed 12 steps; the config asks for 12"):
        train(model, data, config, progress=False, resume=dataclasses.replace(state, history=finished))


def test_a_second_ctrl_c_stops_at_once(data, tokenizer):
    import os
    import signal

    class StopTwice(StopAt):
        def next_batch(self):
            batch = super().next_batch()
            if self.calls == self.at:
                os.kill(os.getpid(), signal.SIGINT)
            return batch

    config = TrainingConfig(num_steps=6, batch_size=8, warmup_steps=0)
    with pytest.raises(KeyboardInterrupt):
        train(build_model("tiny", tokenizer), data, config, progress=False,
              batches=StopTwice(BatchSampler(data, 8, 0), at=2))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the learner's Ctrl-C is theirs again


def test_the_loss_at_the_ends_never_shares_a_step():
    from distillab.training import History

    ten = History(step=list(range(1, 11)), loss=[3.6, 3.5, 3.4, 3.3, 3.2, 3.1, 3.0, 2.9, 2.8, 2.7])
    assert ten.loss_at_ends() == (3.6, 2.7)  # one step each: the first and the last
    hundred = History(step=list(range(1, 101)), loss=[float(100 - i) for i in range(100)])
    assert hundred.loss_at_ends() == (95.5, 5.5)  # the mean of ten steps at each end
    with pytest.raises(ValueError, match="no step was trained"):
        History().loss_at_ends()


def test_sft_computes_logits_only_from_the_first_completion_position(tokenizer):
    """The same loss as logits at every position, from fewer logits: a prompt position needs no
    distribution over the vocabulary."""
    from distillab.losses import masked_cross_entropy
    from distillab.training import first_counted

    data = TrainingSet.from_problems({3: world.sample_problems(8, 3, seed=2)}, tokenizer)
    batch = {"input_ids": data.input_ids[3], "completion_mask": data.completion_mask[3]}
    model = build_model("tiny", tokenizer, seed=0)
    asked = []
    model.register_forward_hook(lambda module, args, kwargs, out: asked.append(out.logits.shape[1]), with_kwargs=True)
    loss = sft_objective(model, batch)
    ids, mask = batch["input_ids"], batch["completion_mask"][:, 1:]
    everywhere = masked_cross_entropy(model(input_ids=ids[:, :-1]).logits, ids[:, 1:], mask)
    assert loss.item() == pytest.approx(everywhere.item(), rel=1e-6)
    first = first_counted(mask)
    assert first > 0 and asked[0] == mask.shape[1] - first < asked[1] == mask.shape[1]
    assert first_counted(torch.zeros(2, 5, dtype=torch.bool)) == 0
