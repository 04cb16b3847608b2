"""Chapter 07's fine-tuning through TRL's SFTTrainer: the same tokens and mask as the course's
training set, and the course's own first-step loss (two LoRA steps of the real model, 4 short
examples; about 10 s on 2 cores)."""

import pytest

from distillab import realmodel_experiments, realmodel_trl
from distillab.profiles import get_profile
from distillab.workspace import REFERENCE_TEACHER


@pytest.fixture(scope="module")
def setup_and_traces(real_model_folder):
    import os

    previous = os.environ.get("DISTILLAB_MODELS")
    os.environ["DISTILLAB_MODELS"] = str(real_model_folder.parent)
    try:
        setup = realmodel_experiments.prepare(REFERENCE_TEACHER, "the reference", get_profile("fast"))
    finally:
        if previous is None:
            os.environ.pop("DISTILLAB_MODELS")
        else:
            os.environ["DISTILLAB_MODELS"] = previous
    return setup, realmodel_experiments.teacher_traces(setup)


def test_trls_sft_trainer_computes_the_courses_loss_on_the_courses_tokens(setup_and_traces):
    check = realmodel_trl.cross_check(*setup_and_traces, steps=2, count=4)
    assert check.same_tokens and len(check.course_losses) == len(check.trl_losses) == 2
    assert check.first_step_difference <= realmodel_trl.TOLERANCE and check.agrees, check.describe()
    assert check.trl_losses[1] < check.trl_losses[0] and check.course_losses[1] < check.course_losses[0]
    assert "they agree" in check.describe() and [row["step"] for row in check.rows()] == [1, 2]
    assert check.config().startswith("SFTConfig(completion_only_loss=True, ") and "bf16=False" in check.config()


def test_a_wrong_example_count_is_named(setup_and_traces):
    with pytest.raises(ValueError, match="verified traces of 1-step problems, asked for 100000"):
        realmodel_trl.examples(*setup_and_traces, count=100000)
    with pytest.raises(ValueError, match="count must be a whole number"):
        realmodel_trl.examples(*setup_and_traces, count=0)
