"""Lab 04's checks: the exact per-token reverse KL and its one-sample estimate pass when right,
and each slip a learner makes is caught and named."""

import pytest
import torch
import torch.nn.functional as F

from distillab.checks import FAILED, NOT_DONE, PASSED
from distillab.checks.onpolicy import (check_per_token_reverse_kl, check_sampled_reverse_kl, exact_reverse_kl,
                                       exact_sampled_estimate)


def masked(values, mask):
    return torch.where(mask, values, torch.zeros_like(values))


def test_the_right_answers_pass():
    assert check_per_token_reverse_kl(exact_reverse_kl).status == PASSED
    assert check_sampled_reverse_kl(exact_sampled_estimate).status == PASSED


def test_the_stub_is_not_done_yet():
    def stub(*args):
        raise NotImplementedError

    assert check_per_token_reverse_kl(stub).status == NOT_DONE
    assert check_sampled_reverse_kl(stub).status == NOT_DONE


EXACT_SLIPS = {
    "forward KL": (lambda s, t, m: masked((F.softmax(t, -1) * (F.log_softmax(t, -1) - F.log_softmax(s, -1))).sum(-1), m),
                   "forward KL"),
    "mask ignored": (lambda s, t, m: (F.softmax(s, -1) * (F.log_softmax(s, -1) - F.log_softmax(t, -1))).sum(-1),
                     "masked positions"),
    "cross-entropy": (lambda s, t, m: masked(-(F.softmax(s, -1) * F.log_softmax(t, -1)).sum(-1), m), "cross-entropy"),
    "raw logits": (lambda s, t, m: masked((F.softmax(s, -1) * (s - t)).sum(-1), m), "raw logits"),
    "mean over the vocabulary": (lambda s, t, m: masked((F.softmax(s, -1) * (F.log_softmax(s, -1)
                                                                             - F.log_softmax(t, -1))).mean(-1), m),
                                 "averaged over the vocabulary"),
}


SAMPLED_SLIPS = {
    "sign flipped": (lambda s, t, x, m: -exact_sampled_estimate(s, t, x, m), "sign is flipped"),
    "mask ignored": (lambda s, t, x, m: exact_sampled_estimate(s, t, x, torch.ones_like(m)), "masked positions"),
    "raw logits": (lambda s, t, x, m: masked((s - t).gather(-1, x.unsqueeze(-1)).squeeze(-1), m), "raw logits"),
    "off by one": (lambda s, t, x, m: exact_sampled_estimate(s, t, torch.roll(x, -1, 1), m), "one position too far"),
    "teacher only": (lambda s, t, x, m: masked(-F.log_softmax(t, -1).gather(-1, x.unsqueeze(-1)).squeeze(-1), m),
                     "only −log p_T"),
}


SLIPS = [(check_per_token_reverse_kl, name, *slip) for name, slip in EXACT_SLIPS.items()] + \
        [(check_sampled_reverse_kl, name, *slip) for name, slip in SAMPLED_SLIPS.items()]


@pytest.mark.parametrize("check, slip, wrong, named", SLIPS, ids=[f"{c.__name__}-{s}" for c, s, *_ in SLIPS])
def test_each_slip_is_named(check, slip, wrong, named):
    result = check(wrong)
    assert result.status == FAILED and named in result.message, result.message


@pytest.mark.parametrize("returned, named", [(lambda s, t, m: [0.0], "returned a list"),
                                             (lambda s, t, m: torch.zeros(3), "returned shape (3,)"),
                                             (lambda s, t, m: torch.full(m.shape, float("nan")), "nan or inf")])
def test_the_wrong_kind_of_answer_is_named(returned, named):
    result = check_per_token_reverse_kl(returned)
    assert result.status == FAILED and named in result.message, result.message
