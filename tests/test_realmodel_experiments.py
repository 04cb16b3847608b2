"""Chapter 07's experiment pieces, checked without training the 135M-parameter model (the recipe
test and chapter 07 itself train it): the setup, each arm's data in the real model's chat format,
the gains against the model as it comes, acceptance and cost tables worked out by hand."""

import pytest

from distillab import realmodel_experiments
from distillab import records, world
from distillab.evaluation import Evaluation
from distillab.profiles import get_profile
from distillab.records import Compute, RunRecord
from distillab.sampling import TraceSamples
from distillab.comparison import Comparison, StudentRun
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
        assert tokenizer.decode(row).startswith(realmodel_experiments.prompt_text(problem, tokenizer, realmodel_experiments.FORMAT))
        assert arm.start_from == setup.student_folder and arm.prompt_format == "natural"
    assert traces.lora is None and traces.training.learning_rate == realmodel_experiments.LEARNING_RATE
    assert answers.lora == realmodel_experiments.LORA and answers.training.learning_rate == realmodel_experiments.LORA_LEARNING_RATE
    assert traces.family == records.TRACES and answers.family == records.ANSWERS_ONLY
    assert traces.teacher_data_flops == samples.flops > 0 and answers.teacher_data_flops == 0


def run(arm, seed, accuracy, seconds=10.0, steps=5, flops=1e12):
    return StudentRun(arm, seed, {d: accuracy for d in world.DIFFICULTIES}, flops, seconds, steps, 100)


def test_gains_over_the_model_as_it_comes_are_paired_by_seed():
    before = Evaluation({d: 0.1 for d in world.DIFFICULTIES}, 1.0, 10, 1.0, 50)
    gain = realmodel_experiments.gain_over([run("x", 1, 0.5), run("x", 0, 0.3)], before)
    assert gain.seeds == (0, 1) and gain.gains == pytest.approx((20.0, 40.0))
    assert realmodel_experiments.multi_step({1: 1.0, 2: 1.0, 3: 0.3, 4: 0.2, 5: 0.1}) == pytest.approx(0.2)


def test_the_cost_table_by_hand():
    comparison = Comparison({"a": [run("a", 0, 0.1, seconds=10, steps=5, flops=2e12),
                                   run("a", 1, 0.2, seconds=20, steps=5, flops=4e12)]})
    facts = {"a": {"trainable parameters": 1234, "teacher data FLOPs": 1e12}}
    [row] = realmodel_experiments.cost_rows(comparison, facts, peak_gflops=400.0)
    assert row["seconds per step"] == pytest.approx(3.0) and row["training FLOPs"] == pytest.approx(3e12)
    assert row["GFLOP/s"] == pytest.approx(200.0) and row["share of the matmul peak (%)"] == pytest.approx(50.0)
    assert realmodel_experiments.seconds_per_step(comparison) == {"a": pytest.approx(3.0)}
    assert "share of the matmul peak (%)" not in realmodel_experiments.cost_rows(comparison, facts)[0]
    assert row["trainable parameters"] == "1,234"
    # (3e12 + 1e12) FLOPs at 989 TFLOP/s and the H100's stated use, at its hourly price
    from distillab.cost import H100

    assert row["H100 dollars"] == pytest.approx(4e12 / (H100.peak_tflops * 1e12 * H100.utilization) / 3600
                                                * H100.dollars_per_hour)


def test_acceptance_by_temperature_and_the_cost_of_a_kept_sample():
    problems = world.sample_problems(2, 1, seed=0) + world.sample_problems(2, 3, seed=0)
    samples = TraceSamples(problems, [["a", "b"]] * 4, [[True, False], [True, True], [False, False], [True, False]],
                           0.7, 10, 10, 8e9, 1.0, "natural")
    [row] = realmodel_experiments.acceptance_rows({0.7: samples})
    assert row["1 steps (%)"] == 75.0 and row["3 steps (%)"] == 25.0 and row["all (%)"] == 50.0
    assert row["kept"] == "4 of 8" and row["GFLOPs per kept sample"] == pytest.approx(2.0)
    none = TraceSamples(problems, [["a", "b"]] * 4, [[False, False]] * 4, 0.7, 10, 10, 8e9, 1.0, "natural")
    [row] = realmodel_experiments.acceptance_rows({0.7: none})
    assert row["kept"] == "0 of 8" and row["GFLOPs per kept sample"] == "none kept"  # not inf


def test_the_headline_arms_follow_the_fine_tuning_knob():
    assert realmodel_experiments.arm_names("lora") == (realmodel_experiments.ANSWERS_LORA, realmodel_experiments.TRACES_LORA)
    assert realmodel_experiments.arm_names("full") == (realmodel_experiments.ANSWERS, realmodel_experiments.TRACES)
    with pytest.raises(ValueError, match="FINE_TUNING must be one of"):
        realmodel_experiments.arm_names("qlora")


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
    assert counts["as the course asks"] == len(setup.student_tokenizer(realmodel_experiments.prompt_text(problem, setup.student_tokenizer,
                                                                                        realmodel_experiments.FORMAT))["input_ids"])


def test_the_stored_teacher_study_in_one_paragraph():
    problems = world.sample_problems(2, 1, seed=0)
    samples = TraceSamples(problems, [["a"], ["b"]], [[True], [True]], 0.0, 10, 10, 2e8, 1.0)
    stored = {"own_samples": {"problems": 100, "k": 4, "temperature": 0.7, "acceptance": {"1": 0.1, "2": 0.0},
                              "kept": 4, "flops": 4e12}}
    text = realmodel_experiments.stored_teacher_study(stored, samples)
    assert "100 problems x k = 4 at T = 0.7" in text and "1: 10 %, 2: 0 %" in text and "4 kept" in text
    assert "1e+12 FLOPs" in text and "1e+08" in text and "10,000 times less" in text


def test_what_each_arm_learned_beside_what_it_lost():
    def run(arm, seed, accuracy, forgetting):
        record = RunRecord(chapter="07", family=records.ANSWERS_ONLY, arm=arm, profile="fast", seed=seed,
                           model_size="SmolLM2-135M-Instruct", parameters=1, data_size=1, steps=1, seconds=1.0,
                           accuracy={1: accuracy}, compute=Compute(1.0), forgetting=forgetting)
        return StudentRun(arm, seed, {1: accuracy}, 1.0, 1.0, 1, 1, None, None, record)

    lost = lambda after, drift: {"perplexity_before": 10.0, "perplexity_after": after, "drift": drift,  # noqa: E731
                                 "passages_sha256": "ab"}
    comparison = Comparison({"traces": [run("traces", 1, 0.5, lost(11.0, 0.2)), run("traces", 0, 0.3, lost(12.0, 0.4))],
                             "old": [run("old", 0, 0.2, None)]})
    before = Evaluation({1: 0.1}, 0.0, 0, 0.0, 1)
    points = realmodel_experiments.learned_and_lost(comparison, before)
    assert list(points) == ["traces"]  # runs recorded before forgetting was measured are left out
    assert points["traces"] == [pytest.approx((20.0, 20.0, 0.4)), pytest.approx((40.0, 10.0, 0.2))]  # by seed
    [row] = realmodel_experiments.forgetting_rows(comparison, before)
    assert row["learned (points over as it comes)"] == pytest.approx(30.0) and row["seeds"] == 2
    assert row["perplexity after"] == pytest.approx(11.5) and row["drift (nats)"] == pytest.approx(0.3)
