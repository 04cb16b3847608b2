"""Chapter 06's experiment functions: the other family's student on chapter 03's traces, paired by seed."""

import statistics
from dataclasses import replace

from distillab import claims, records
from distillab.comparison import Comparison
from distillab import trace_experiments
from distillab import transfer_experiments
from distillab.ledger import Ledger
from distillab.profiles import get_profile
from distillab.recipe_file import load_recipe
from distillab.tokenizer import build_bpe_tokenizer, fingerprint


def tiny_setup():
    profile = replace(get_profile("fast"), trace_student_steps=2, eval_per_difficulty=1, warmup_steps=0)
    setup = transfer_experiments.prepare(trace_experiments.REFERENCE_TEACHER, "the reference", profile, num_prompts=10)
    return profile, setup, setup.traces()


def test_the_other_family_reads_the_same_traces_through_its_own_tokenizer():
    _, setup, samples = tiny_setup()
    arm = transfer_experiments.other_family_arm(setup, samples)
    same = transfer_experiments.same_family_arm(setup, samples)
    assert arm.family == records.TRACES and arm.architecture == transfer_experiments.ARCHITECTURE
    assert arm.data.tokenizer_fingerprint == fingerprint(build_bpe_tokenizer()) != same.data.tokenizer_fingerprint
    assert len(arm.data) == len(same.data) and arm.training == same.training  # same traces, same budget
    longer = sum(ids.shape[1] for ids in arm.data.input_ids.values())
    assert longer > sum(ids.shape[1] for ids in same.data.input_ids.values())  # numbers cost more tokens
    rows = transfer_experiments.tokens_side_by_side(setup.prompts[3][0], {"words": setup.tokenizer, "BPE": build_bpe_tokenizer()})
    assert rows[1]["trace tokens"] > rows[0]["trace tokens"] and "|" not in rows[1]["first tokens of the trace"]


def test_the_headline_pairs_by_seed_and_reuses_chapter_03s_run_of_the_same_key():
    profile, setup, samples = tiny_setup()
    ledger = Ledger(profile)
    chapter_03 = replace(setup, chapter="03")
    trace_experiments.compare(chapter_03, {trace_experiments.FILTERED: transfer_experiments.same_family_arm(chapter_03, samples)}, (0,), ledger)  # chapter 03, seed 0
    trace_experiments.compare(chapter_03, {trace_experiments.FILTERED: trace_experiments.traces_arm(chapter_03, samples, mix="examples")}, (1,), ledger)  # other knobs
    headline = transfer_experiments.headline(setup, samples, ledger, seeds=(0, 1))
    assert [run.seed for run in headline[transfer_experiments.SAME_FAMILY]] == [run.seed for run in headline[transfer_experiments.OTHER_FAMILY]] == [0, 1]
    assert headline[transfer_experiments.SAME_FAMILY][0].record.chapter == "03"  # read back, not trained again
    assert headline[transfer_experiments.SAME_FAMILY][1].record.chapter == "06"  # trained here: seed 1's chapter 03 run had other knobs
    across = [r for r in ledger.entries() if r.arm == transfer_experiments.OTHER_FAMILY]
    assert len(across) == 2 and all(r.settings["architecture"] == "qwen2" for r in across)
    gain = headline.gain(transfer_experiments.SAME_FAMILY, transfer_experiments.OTHER_FAMILY)
    assert len(gain.gains) == 2
    from_ledger = transfer_experiments.paired_from_ledger(ledger)  # what make bench reads back
    assert from_ledger["seeds"] == 2 and abs(from_ledger["mean"] - gain.mean) < 1e-9


def test_the_demo_recipe_is_a_valid_small_recipe(tmp_path):
    path = transfer_experiments.write_demo_recipe(get_profile("standard"), tmp_path)
    recipe = load_recipe(path)
    assert (recipe.architecture, recipe.student_tokenizer, recipe.kind) == ("qwen2", "bpe", "traces")
    assert recipe.output == tmp_path / "06-demo-qwen2" and recipe.steps == transfer_experiments.DEMO_STEPS["standard"]


def test_the_recipe_commands_runs_are_timed_once_and_run_again_when_their_report_is_gone(tmp_path, monkeypatch):
    from distillab import run_recipe

    path, launched = transfer_experiments.write_demo_recipe(get_profile("fast"), tmp_path), []

    def fake_launch(recipe_file, processes):  # what the command leaves behind: its report
        launched.append(processes)
        output = load_recipe(recipe_file).output
        output.mkdir(parents=True, exist_ok=True)
        (output / "report.json").write_text("{}")
        return 10.0 * processes

    monkeypatch.setattr(run_recipe, "launch", fake_launch)
    profile = get_profile("fast")
    assert transfer_experiments.timed_recipe_runs(path, (1, 2), profile) == {1: 10.0, 2: 20.0} and launched == [1, 2]
    assert transfer_experiments.timed_recipe_runs(path, (1, 2), profile) == {1: 10.0, 2: 20.0} and launched == [1, 2]  # read back
    transfer_experiments.timed_recipe_runs(path, (1, 2), profile, refresh=True)  # RETRAIN
    assert launched == [1, 2, 1, 2]
    (load_recipe(path).output / "report.json").unlink()  # the learner deleted the run: run it again
    transfer_experiments.timed_recipe_runs(path, (1, 2), profile)
    assert launched == [1, 2, 1, 2, 1, 2]
    path.write_text(path.read_text().replace("seeds = [0]", "seeds = [1]"))  # another recipe: run it
    transfer_experiments.timed_recipe_runs(path, (1, 2), profile)
    assert launched == [1, 2, 1, 2, 1, 2, 1, 2]


def chapter_03_with(filtered_runs) -> trace_experiments.TraceSweeps:
    """Chapter 03's stored sweeps with `filtered_runs` as its filtered-trace student."""
    stored = trace_experiments.load_sweeps()
    arms = Comparison({**stored.comparisons.arms, trace_experiments.FILTERED: filtered_runs})
    return replace(stored, comparisons=replace(stored.comparisons, arms=arms))


def test_a_miniature_transfer_sweep_answers_its_two_questions(tmp_path):
    from distillab import stored_sweeps

    profile = replace(get_profile("fast"), trace_student_steps=2, seeds=(0, 1), eval_per_difficulty=1,
                      trace_prompts=50, warmup_steps=0)
    results = transfer_experiments.measure_sweeps(profile)
    runs = results["comparisons"]["across"]
    assert list(runs) == [transfer_experiments.OTHER_FAMILY_ANSWERS, transfer_experiments.OTHER_FAMILY, transfer_experiments.OTHER_FAMILY_LONGER]
    assert runs[transfer_experiments.OTHER_FAMILY_LONGER][0].steps == 2 * runs[transfer_experiments.OTHER_FAMILY][0].steps == 4
    assert runs[transfer_experiments.OTHER_FAMILY_ANSWERS][0].record.family == records.ANSWERS_ONLY
    live = stored_sweeps.measured(results, transfer_experiments.TransferSweeps, transfer_experiments.measure_sweeps)
    rows = transfer_experiments.question_rows(live)
    assert [row["arm"] for row in rows] == [transfer_experiments.OTHER_FAMILY, transfer_experiments.OTHER_FAMILY_LONGER]
    # against chapter 03's stored student: here a stand-in, the 1x arm, so the gain is "twice the steps"
    chapter_03 = chapter_03_with(runs[transfer_experiments.OTHER_FAMILY])
    gains = transfer_experiments.gains(live, chapter_03)
    assert gains["vs chapter 03"] == gains["twice the steps"]
    assert transfer_experiments.question_rows(live, chapter_03)[-1]["question"] == "twice the steps vs chapter 03's student"
    path = tmp_path / "transfer.json"
    path.write_text(stored_sweeps.to_json(results, transfer_experiments.measure_sweeps))
    assert transfer_experiments.question_rows(transfer_experiments.load_sweeps(path)) == rows


def test_the_stored_table_shows_chapter_03s_student_under_its_one_name():
    stored, chapter_03 = transfer_experiments.load_sweeps(), trace_experiments.load_sweeps()
    rows = transfer_experiments.stored_table(stored, chapter_03)
    assert [row["arm"] for row in rows] == [transfer_experiments.SAME_FAMILY, transfer_experiments.OTHER_FAMILY_ANSWERS, transfer_experiments.OTHER_FAMILY, transfer_experiments.OTHER_FAMILY_LONGER]
    chapter_03_runs = chapter_03.comparisons.arms[trace_experiments.FILTERED]
    assert rows[0]["mean accuracy (%)"] == sum(100 * run.mean_accuracy for run in chapter_03_runs) / len(chapter_03_runs)
    assert all(row["baseline"] != trace_experiments.FILTERED for row in transfer_experiments.question_rows(stored, chapter_03))  # one name for it


def test_compounding_puts_p_to_the_k_beside_each_difficulty_worked_out_by_hand():
    from distillab.comparison import Comparison, StudentRun

    def run(arm, seed, accuracy):
        return StudentRun(arm, seed, dict(enumerate(accuracy, start=1)), 0.0, 0.0, 1, 1)

    # two seeds each; by hand: 1x has p = (0.6 + 0.4) / 2 = 0.5, so p^2 = 0.25 and p^3 = 0.125;
    # 2x has p = 1.0, so p^k = 1 at every k.
    real = transfer_experiments.load_sweeps()
    stored = replace(real, comparisons=transfer_experiments.TransferComparisons(Comparison({
        "short": [run("short", 0, [0.6, 0.3, 0.1]), run("short", 1, [0.4, 0.2, 0.2])],
        "long": [run("long", 0, [1.0, 1.0, 0.9]), run("long", 1, [1.0, 0.8, 0.9])]})))
    compounded = transfer_experiments.compounding(stored, {"1x": "short", "2x": "long"})
    expected = {"1x": {1: (0.5, 0.5), 2: (0.25, 0.25), 3: (0.15, 0.125)},
                "2x": {1: (1.0, 1.0), 2: (0.9, 1.0), 3: (0.9, 1.0)}}
    for label, levels in expected.items():
        for d, (measured, predicted) in levels.items():
            assert abs(compounded[label][d][0] - measured) < 1e-12 and abs(compounded[label][d][1] - predicted) < 1e-12
    assert abs(transfer_experiments.compounding_gap(compounded) - 10.0) < 1e-9  # 2x at k = 2 and 3: 90 % against 100 %
    assert transfer_experiments.compounding_table(compounded)[2] == {"steps in the problem": 3, "1x: measured (%)": 15.0, "1x: p^k (%)": 12.5,
                                                  "2x: measured (%)": 90.0, "2x: p^k (%)": 100.0}
    assert transfer_experiments.describe_compounding(compounded)[0] == ("1x: one step right 50.0 % of the time, so 3 steps 12.5 %; "
                                                     "mean over difficulties 29.2 % by p^k, 30.0 % measured")


def test_live_and_stored_pairs_chapter_03s_student_by_seed_number():
    from distillab.comparison import Comparison, StudentRun

    def run(seed, mean):
        return StudentRun(transfer_experiments.SAME_FAMILY, seed, dict.fromkeys(range(1, 6), mean), 0.0, 0.0, 1, 1)

    headline = Comparison({transfer_experiments.SAME_FAMILY: [run(2, 0.5), run(0, 0.25)]})  # in the order they finished
    chapter_03 = chapter_03_with([run(0, 0.75), run(1, 0.8), run(2, 1.0)])
    assert transfer_experiments.live_and_stored(headline, chapter_03) == ("chapter 03's student, your run against the stored one: "
                                                        "seed 0 25.0 % against 75.0 %, seed 2 50.0 % against 100.0 %")


def test_the_longer_problems_claim_is_one_step_minus_five_steps_seed_by_seed():
    stored = transfer_experiments.load_sweeps().comparisons.across
    claim = transfer_experiments.falls_with_length_claim(stored)
    runs = stored[transfer_experiments.other_family_name(transfer_experiments.ARCHITECTURE)]
    assert claim.seeds == tuple(run.seed for run in runs)
    assert claim.effects == tuple(100 * (run.accuracy[1] - run.accuracy[5]) for run in runs)
    assert claim.rule == "every seed" and claim.margin == 0 and claim.holds  # the stored sweep shows it
    assert not replace(claim, effects=(35.0, -1.0, 40.0)).holds


def test_chapter_06s_margins_come_from_the_power_calculation():
    assert claims.largest_margin(transfer_experiments.MEASURED_LEAD, 3) == transfer_experiments.LEAD_MARGIN
    # the fall: no interval margin is cleared in 9 runs out of 10, and every seed above 0 is (about 99 in 100)
    fall = transfer_experiments.MEASURED_FALL
    assert claims.largest_margin(fall, 3) is None
    assert claims.normal_cdf(statistics.fmean(fall) / statistics.stdev(fall)) ** 3 > 0.98
