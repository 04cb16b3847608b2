import pytest
import torch
import torch.nn.functional as F

from distillab.losses import masked_cross_entropy


def test_masked_cross_entropy_matches_torch_with_ignore_index():
    torch.manual_seed(0)
    logits, targets = torch.randn(3, 5, 11), torch.randint(0, 11, (3, 5))
    mask = torch.rand(3, 5) > 0.4
    reference = F.cross_entropy(logits.reshape(-1, 11), targets.masked_fill(~mask, -100).reshape(-1),
                                ignore_index=-100)
    assert torch.allclose(masked_cross_entropy(logits, targets, mask), reference)


def test_masked_positions_do_not_matter():
    torch.manual_seed(1)
    logits, targets = torch.randn(2, 4, 7), torch.randint(0, 7, (2, 4))
    mask = torch.tensor([[False, True, True, True], [False, False, True, True]])
    changed = logits.clone()
    changed[~mask] = 100.0
    assert torch.allclose(masked_cross_entropy(logits, targets, mask),
                          masked_cross_entropy(changed, targets, mask))


def test_empty_mask_is_a_clear_error():
    with pytest.raises(ValueError, match="mask selects no position"):
        masked_cross_entropy(torch.randn(1, 2, 3), torch.zeros(1, 2, dtype=torch.long),
                             torch.zeros(1, 2, dtype=torch.bool))


def test_mask_must_be_bool():
    with pytest.raises(ValueError, match="bool"):
        masked_cross_entropy(torch.randn(1, 2, 3), torch.zeros(1, 2, dtype=torch.long),
                             torch.ones(1, 2))
