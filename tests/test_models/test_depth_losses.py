import math

import pytest
import torch

from jdbench.models.losses import BerHuLoss, DepthL1Loss, SILogLoss


def _maps():
    pred = torch.tensor([[[[2.0, 4.0], [1.0, 9.0]]]])
    gt = torch.tensor([[[[1.0, 4.0], [2.0, 0.0]]]])  # last pixel invalid (0)
    return pred, gt


def test_l1_ignores_invalid_pixels():
    pred, gt = _maps()
    assert DepthL1Loss()(pred, gt).item() == pytest.approx((1 + 0 + 1) / 3)
    assert DepthL1Loss(loss_weight=2.0)(pred, gt).item() == pytest.approx(2 * 2 / 3)


def test_silog_closed_form():
    pred, gt = _maps()
    g = torch.tensor([math.log(2.0), 0.0, math.log(0.5)])
    expected = math.sqrt((g.pow(2).mean() - 0.85 * g.mean().pow(2)).item())
    assert SILogLoss()(pred, gt).item() == pytest.approx(expected, rel=1e-6)
    # scale invariance with lambda = 1: multiplying the prediction by a constant changes nothing
    assert SILogLoss(lambd=1.0)(3 * pred, gt).item() == pytest.approx(SILogLoss(lambd=1.0)(pred, gt).item(), abs=1e-5)


def test_berhu_piecewise():
    pred = torch.tensor([[[[1.1, 3.0, 0.0]]]])
    gt = torch.tensor([[[[1.0, 1.0, 5.0]]]])
    # |x| = 0.1, 2, 5 (the third pixel is invalid: gt 5 valid, pred 0 -> diff 5)
    c = 0.2 * 5.0
    expected = (0.1 + (4 + c * c) / (2 * c) + (25 + c * c) / (2 * c)) / 3
    assert BerHuLoss()(pred, gt).item() == pytest.approx(expected, rel=1e-6)


def test_empty_mask_gives_zero_with_gradient():
    pred = torch.ones(1, 1, 2, 2, requires_grad=True)
    loss = DepthL1Loss()(pred, torch.zeros(1, 1, 2, 2))
    loss.backward()
    assert loss.item() == 0.0 and pred.grad is not None


def test_shape_mismatch_is_explained():
    with pytest.raises(ValueError, match='differ in shape'):
        DepthL1Loss()(torch.ones(1, 1, 2, 2), torch.ones(1, 1, 3, 3))
