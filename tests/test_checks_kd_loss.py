"""Lab 02's check: the course's forward KL passes, and each bug practitioners ship is named."""

import pytest
import torch
import torch.nn.functional as F

from distillab.checks import FAILED, NOT_DONE, PASSED
from distillab.checks.kd_loss import check_distillation_loss
from distillab.losses import forward_kl

pytestmark = pytest.mark.filterwarnings("ignore:reduction. .mean. divides:UserWarning")


def soft(logits, mask, temperature):
    return F.log_softmax(logits[mask] / temperature, dim=-1)


def test_the_course_loss_passes():
    result = check_distillation_loss(lambda s, t, m, temperature: forward_kl(s, t, m, temperature))
    assert result.status == PASSED and "gradient" in result.message


BUGS = {
    "arguments swapped": (lambda s, t, m, T: F.kl_div(soft(t, m, T), soft(s, m, T), reduction="batchmean",
                                                       log_target=True) * T * T, "arguments are swapped"),
    "T² missing": (lambda s, t, m, T: F.kl_div(soft(s, m, T), soft(t, m, T), reduction="batchmean",
                                               log_target=True), "left out the T² factor"),
    "mean over the vocabulary": (lambda s, t, m, T: F.kl_div(soft(s, m, T), soft(t, m, T), reduction="mean",
                                                             log_target=True) * T * T, "averaged over the vocabulary"),
    "sum over positions": (lambda s, t, m, T: F.kl_div(soft(s, m, T), soft(t, m, T), reduction="sum",
                                                       log_target=True) * T * T, "summed over the positions"),
    "divided by the batch": (lambda s, t, m, T: F.kl_div(F.log_softmax(s / T, -1), F.log_softmax(t / T, -1),
                                                         reduction="none", log_target=True).sum(-1)[m].sum()
                             / s.shape[0] * T * T, "divided by the batch size"),
    "padding counted": (lambda s, t, m, T: F.kl_div(F.log_softmax(s / T, -1).flatten(0, 1),
                                                    F.log_softmax(t / T, -1).flatten(0, 1), reduction="batchmean",
                                                    log_target=True) * T * T, "counts the padded positions"),
    "probabilities as input": (lambda s, t, m, T: F.kl_div(F.softmax(s[m] / T, -1), F.softmax(t[m] / T, -1),
                                                           reduction="batchmean") * T * T, "expects the student's *log*"),
    "log-probs as the target": (lambda s, t, m, T: F.kl_div(soft(s, m, T), soft(t, m, T), reduction="batchmean") * T * T,
                                "log_target=True"),
    "cross-entropy, not KL": (lambda s, t, m, T: -(F.softmax(t[m] / T, -1) * soft(s, m, T)).sum(-1).mean() * T * T,
                              "teacher's entropy"),
    "teacher softened only": (lambda s, t, m, T: F.kl_div(F.log_softmax(s[m], -1), soft(t, m, T), reduction="batchmean",
                                                          log_target=True) * T * T, "softened the teacher but not the student"),
    "detached": (lambda s, t, m, T: torch.tensor(forward_kl(s, t, m, T).item()), "do not use .item()"),
    "a float": (lambda s, t, m, T: forward_kl(s, t, m, T).item(), "return a torch tensor"),
    "per position": (lambda s, t, m, T: F.kl_div(soft(s, m, T), soft(t, m, T), reduction="none",
                                                 log_target=True).sum(-1), "reduce it to one number"),
}


@pytest.mark.parametrize("name", BUGS)
def test_each_shipped_bug_is_named(name):
    bug, hint = BUGS[name]
    result = check_distillation_loss(bug)
    assert result.status == FAILED and hint in result.message, result.message


def test_the_stub_is_not_done():
    def stub(*args):
        raise NotImplementedError("your code here")
    assert check_distillation_loss(stub).status == NOT_DONE


def kl(student_log, teacher_log):
    return (teacher_log.exp() * (teacher_log - student_log)).sum(-1)


MORE_BUGS = {  # the wrong versions a learner writes, each with the words its feedback must contain
    "zeroed but divided by B·T": (lambda s, t, m, T: torch.where(m, kl(F.log_softmax(s / T, -1), F.log_softmax(t / T, -1)),
                                                                 torch.zeros(m.shape)).sum() / m.numel() * T * T,
                                  "divided by all of them"),
    "student softened, teacher not": (lambda s, t, m, T: kl(F.log_softmax(s[m] / T, -1), F.log_softmax(t[m], -1)).mean() * T * T,
                                      "softened the student but not the teacher"),
    "T instead of T²": (lambda s, t, m, T: kl(F.log_softmax(s[m] / T, -1), F.log_softmax(t[m] / T, -1)).mean() * T,
                        "multiplied by T, not T²"),
    "mean of per-sequence means": (lambda s, t, m, T: torch.stack([
        kl(F.log_softmax(s[b][m[b]] / T, -1), F.log_softmax(t[b][m[b]] / T, -1)).mean() for b in range(2)]).mean() * T * T,
        "averaged each sequence"),
    "temperature ignored": (lambda s, t, m, T: kl(F.log_softmax(s[m], -1), F.log_softmax(t[m], -1)).mean(),
                            "ignores the temperature"),
    "T² kept, temperature left out of the softmax": (lambda s, t, m, T: kl(F.log_softmax(s[m], -1),
                                                                          F.log_softmax(t[m], -1)).mean() * T * T,
                                                     "left the temperature out of the softmax"),
    "logits multiplied by T": (lambda s, t, m, T: kl(F.log_softmax(s[m] * T, -1), F.log_softmax(t[m] * T, -1)).mean() * T * T,
                               "multiplied the logits by T"),
    "sign flipped": (lambda s, t, m, T: -kl(F.log_softmax(s[m] / T, -1), F.log_softmax(t[m] / T, -1)).mean() * T * T,
                     "sign is flipped"),
    "raw logits as log-probabilities": (lambda s, t, m, T: (F.softmax(t[m] / T, -1) * (t[m] / T - s[m] / T)).sum(-1).mean() * T * T,
                                        "raw logits as log-probabilities"),
    "student's raw logits into kl_div": (lambda s, t, m, T: F.kl_div(s[m] / T, F.log_softmax(t[m] / T, -1), reduction="none",
                                                                     log_target=True).sum(-1).mean() * T * T,
                                         "raw logits went in"),
}


@pytest.mark.parametrize("bug", MORE_BUGS)
def test_each_further_wrong_version_is_named(bug):
    wrong, words = MORE_BUGS[bug]
    result = check_distillation_loss(wrong)
    assert result.status == FAILED and words in result.message, result.message
