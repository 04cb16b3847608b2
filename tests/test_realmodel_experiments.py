"""Chapter 07's set-up and arms, checked without training the 135M-parameter model (the recipe
test and chapter 07 itself train it): the setup, each arm's data in the real model's chat format,
one name per arm, the model as it comes in the ledger, and the student the learner keeps."""

import pytest

from distillab import realmodel_experiments
from distillab import records, world
from distillab.architectures import prompt_text
from distillab.profiles import get_profile
from distillab.records import Compute, RunRecord
from distillab.comparison import StudentRun
from distillab.workspace import REFERENCE_TEACHER


@pytest.fixture(scope="module")
def setup(real_model_folder):
    import os

    previous = os.environ.get("DISTILLAB_MODELS")
    os.environ["DISTILLAB_MODELS"] = str(real_model_folder.parent)
    try:
        return realmodel_experiments.prepare(REFERENCE_TEACHER, "the reference", get_profile("fast"))
    finally:
        if previous is None:
            os.environ.pop("DISTILLAB_MODELS")
        else:
            os.environ["DISTILLAB_MODELS"] = previous


def test_the_setup_follows_the_profiles_real_model_budget(setup):
    budget = get_profile("fast").real_model
    assert setup.training.num_steps == budget.steps and setup.training.batch_size == budget.batch_size
    assert {d: len(p) for d, p in setup.held_out.items()} == {d: budget.eval_per_difficulty for d in world.DIFFICULTIES}
    assert world.count_overlap(setup.prompts, setup.held_out) == 0


def test_the_arms_hold_the_teachers_verified_traces_and_the_answers_in_the_chat_format(setup):
    samples = realmodel_experiments.teacher_traces(setup)
    traces, answers = realmodel_experiments.traces_arm(setup, samples), realmodel_experiments.answers_arm(setup, realmodel_experiments.LORA)
    tokenizer = setup.student_tokenizer
    problem = setup.prompts[2][0]
    for arm, reply in ((traces, world.in_plain_english(samples.traces("first")[len(setup.prompts[1])][1])),
                       (answers, f"The answer is {problem.answer}.")):
        row, mask = arm.data.input_ids[2][0].tolist(), arm.data.completion_mask[2][0].tolist()
        assert tokenizer.decode([i for i, m in zip(row, mask) if m]) == reply + tokenizer.eos_token
        assert tokenizer.decode(row).startswith(prompt_text(problem, tokenizer, realmodel_experiments.FORMAT))
        assert arm.start_from == setup.student_folder and arm.prompt_format == "natural"
    assert traces.lora is None and traces.training.learning_rate == realmodel_experiments.LEARNING_RATE
    assert answers.lora == realmodel_experiments.LORA and answers.training.learning_rate == realmodel_experiments.LORA_LEARNING_RATE
    assert traces.family == records.TRACES and answers.family == records.ANSWERS_ONLY
    assert traces.teacher_data_flops == samples.flops > 0 and answers.teacher_data_flops == 0


def test_the_headline_arms_follow_the_fine_tuning_knob_and_every_arm_has_one_name():
    lora, full = realmodel_experiments.headline_arms("lora"), realmodel_experiments.headline_arms("full")
    assert (lora.answers, lora.traces) == (realmodel_experiments.ANSWERS_LORA, realmodel_experiments.TRACES_LORA)
    assert (full.answers, full.traces) == (realmodel_experiments.ANSWERS_FULL, realmodel_experiments.TRACES_FULL)
    with pytest.raises(ValueError, match="FINE_TUNING must be one of"):
        realmodel_experiments.headline_arms("qlora")
    named = [value for name, value in vars(realmodel_experiments).items() if isinstance(value, str) and name.isupper()
             and value in realmodel_experiments.ARMS]
    assert sorted(named) == sorted(set(realmodel_experiments.ARMS)) and len(named) == 7  # one name each


def test_the_model_as_it_comes_is_recorded_as_pretrained_elsewhere():
    record = RunRecord(chapter="07", family=records.PRETRAINED, arm=realmodel_experiments.AS_IT_COMES, profile="fast", seed=0,
                       model_size="SmolLM2-135M-Instruct", parameters=134_515_008, data_size=0, steps=0, seconds=0.0,
                       accuracy={1: 0.1}, compute=Compute(0.0))
    assert RunRecord.from_json(record.to_json()) == record


def test_the_model_as_it_comes_is_recorded_once_for_one_model_and_result(tmp_path):
    from dataclasses import replace

    from distillab.ledger import Ledger

    ledger = Ledger(get_profile("fast"), tmp_path / "ledger.jsonl")
    first = RunRecord(chapter="07", family=records.PRETRAINED, arm=realmodel_experiments.AS_IT_COMES, profile="fast",
                      seed=0, model_size="SmolLM2-135M-Instruct", parameters=134_515_008, data_size=0, steps=0,
                      seconds=0.0, accuracy={1: 0.1}, compute=Compute(0.0), weights_sha256="ab")
    ledger.record(first)
    again = replace(first, timestamp=first.timestamp + 60)
    assert realmodel_experiments._same_model_and_result(again, ledger.entries()[0])
    assert not realmodel_experiments._same_model_and_result(replace(again, weights_sha256="cd"), ledger.entries()[0])
    assert not realmodel_experiments._same_model_and_result(replace(again, accuracy={1: 0.2}), ledger.entries()[0])


def test_a_fine_tuned_answers_only_student_is_not_filed_as_from_scratch():
    record = RunRecord(chapter="07", family=records.ANSWERS_ONLY, arm=realmodel_experiments.ANSWERS_LORA, profile="fast",
                       seed=0, model_size="SmolLM2-135M-Instruct", parameters=1, data_size=1, steps=1, seconds=1.0,
                       accuracy={1: 0.1}, compute=Compute(1.0))
    assert "scratch" not in record.family
    old = record.to_json().replace(f'"family": "{records.ANSWERS_ONLY}"', '"family": "from scratch, answers only"')
    assert "from scratch, answers only" in old and RunRecord.from_json(old) == record  # an old ledger line reads


def test_the_fast_caveat_is_the_chapters_own(setup):
    text = realmodel_experiments.caveat(setup)
    assert "6 steps" in text and "20 problems (4 per difficulty)" in text and "by 5 points" in text
    assert "on every seed" not in text


def test_leaving_out_smollm2s_default_system_prompt_saves_16_tokens_on_every_example(setup):
    problem = setup.held_out[3][0]
    counts = realmodel_experiments.system_prompt_tokens(setup.student_tokenizer, problem)
    assert counts["as the template comes"] - counts["as the course asks"] == 16
    assert counts["as the course asks"] == len(setup.student_tokenizer(prompt_text(problem, setup.student_tokenizer,
                                                                                        realmodel_experiments.FORMAT))["input_ids"])


def test_the_learner_keeps_the_best_lora_student_and_loads_it_back(setup):
    from dataclasses import replace

    from distillab import reuse
    from distillab.architectures import has_adapters, load_causal_lm, with_lora
    from distillab.workspace import workspace

    student = with_lora(realmodel_experiments.load_student(setup), realmodel_experiments.LORA)
    lora = RunRecord(chapter="07", family=records.ANSWERS_ONLY, arm=realmodel_experiments.TRACES_LORA, profile="fast", seed=1,
                     model_size="SmolLM2-135M-Instruct", parameters=1, data_size=1, steps=1, seconds=1.0,
                     accuracy={1: 0.5}, compute=Compute(1.0), settings={"fine-tuning": "LoRA rank 16"}, key="a" * 64)
    lora = replace(lora, weights_sha256=reuse.save_student(student, setup.student_tokenizer, setup.profile, lora.key))
    worse = replace(lora, seed=0, accuracy={1: 0.2}, key="b" * 64, weights_sha256=None)
    runs = [StudentRun.from_record(lora.arm, record) for record in (worse, lora)]
    best = realmodel_experiments.best_run(runs)
    assert best.seed == 1
    folder = realmodel_experiments.keep_student(setup, best)
    assert folder.parent == workspace(setup.profile) / "kept" and "seed-1" in folder.name
    assert has_adapters(load_causal_lm(folder)[0])
    with pytest.raises(ValueError, match="RETRAIN = True"):
        realmodel_experiments.keep_student(setup, runs[0])  # its adapters are not on disk
    full = StudentRun.from_record(realmodel_experiments.TRACES_FULL, replace(worse, settings={"fine-tuning": "full"}))
    with pytest.raises(ValueError, match='FINE_TUNING = "lora"'):
        realmodel_experiments.keep_student(setup, full)


def test_the_learner_asks_a_question_of_their_own(setup):
    model = realmodel_experiments.load_student(setup)
    reply = realmodel_experiments.ask(model, setup.student_tokenizer, "What is 2 + 3?", max_new_tokens=6)
    assert isinstance(reply, str) and reply.strip()
    with pytest.raises(ValueError, match="QUESTION must be some text"):
        realmodel_experiments.ask(model, setup.student_tokenizer, "   ")
