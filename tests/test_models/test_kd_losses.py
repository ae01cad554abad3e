"""Distillation losses against closed-form values."""
import math

import pytest
import torch

from jdbench.registry import MODELS

LN2, LN3, LN15 = math.log(2), math.log(3), math.log(1.5)


def _logits(a, b):
    """A 1x2x1x1 logit map with class logits (a, b)."""
    return torch.tensor([a, b], dtype=torch.float32).view(1, 2, 1, 1)


def test_temperature_kl_two_classes_by_hand():
    # student logits (0, 0) -> q = (1/2, 1/2); teacher logits (ln 3, 0) -> p = (3/4, 1/4)
    student, teacher = _logits(0., 0.), _logits(LN3, 0.)
    kl_ts = MODELS.build(dict(type='TemperatureKLLoss', temperature=1.0, kl_direction='teacher_student'))
    kl_st = MODELS.build(dict(type='TemperatureKLLoss', temperature=1.0, kl_direction='student_teacher'))
    # KL(p || q) = 3/4 ln(3/2) + 1/4 ln(1/2);  KL(q || p) = 1/2 ln(2/3) + 1/2 ln 2
    assert kl_ts(student, teacher).item() == pytest.approx(0.75 * LN15 - 0.25 * LN2, abs=1e-6)
    assert kl_st(student, teacher).item() == pytest.approx(-0.5 * LN15 + 0.5 * LN2, abs=1e-6)
    assert kl_ts(student, teacher).item() == pytest.approx(0.1308120, abs=1e-6)
    assert kl_st(student, teacher).item() == pytest.approx(0.1438410, abs=1e-6)


def test_temperature_scales_logits_and_multiplies_by_tau_squared():
    # tau = 2: teacher logits (2 ln 3, 0) / 2 = (ln 3, 0) -> the same p as above, result times tau^2 = 4
    kl = MODELS.build(dict(type='TemperatureKLLoss', temperature=2.0, loss_weight=0.5))
    value = kl(_logits(0., 0.), _logits(2 * LN3, 0.)).item()
    assert value == pytest.approx(0.5 * 4 * (0.75 * LN15 - 0.25 * LN2), abs=1e-6)


def test_kl_is_mean_over_valid_pixels_and_zero_for_equal_logits():
    kl = MODELS.build(dict(type='TemperatureKLLoss'))
    student = torch.cat([_logits(0., 0.), _logits(0., 0.)], dim=3)            # 1x2x1x2: two pixels
    teacher = torch.cat([_logits(LN3, 0.), _logits(0., 0.)], dim=3)           # KL 0.1308 and 0
    assert kl(student, teacher).item() == pytest.approx(0.1308120 / 2, abs=1e-6)
    valid = torch.tensor([True, False]).view(1, 1, 1, 2)
    assert kl(student, teacher, valid).item() == pytest.approx(0.1308120, abs=1e-6)
    assert kl(teacher, teacher).item() == pytest.approx(0.0, abs=1e-7)


def test_kl_gradient_reaches_the_student_only():
    student = _logits(0., 0.).requires_grad_()
    teacher = _logits(LN3, 0.)
    MODELS.build(dict(type='TemperatureKLLoss'))(student, teacher).backward()
    # d KL(p||q) / d z_S = q - p = (1/2 - 3/4, 1/2 - 1/4)
    torch.testing.assert_close(student.grad.flatten(), torch.tensor([-0.25, 0.25]))


def test_kl_rejects_bad_arguments():
    with pytest.raises(ValueError, match='kl_direction'):
        MODELS.build(dict(type='TemperatureKLLoss', kl_direction='fused'))
    with pytest.raises(ValueError, match='differ in shape'):
        MODELS.build(dict(type='TemperatureKLLoss'))(_logits(0., 0.), torch.zeros(1, 2, 2, 1))


def test_depth_kd_losses_against_the_teacher_depth():
    # student depth (1, 2), teacher depth (2, 2): L1 = 1/2; SILog with g = (ln 1/2, 0):
    # sqrt(mean g^2 - 0.85 mean(g)^2) = ln 2 * sqrt(1/2 - 0.85/4)
    student = torch.tensor([1., 2.]).view(1, 1, 1, 2)
    teacher = torch.tensor([2., 2.]).view(1, 1, 1, 2)
    assert MODELS.build(dict(type='DepthL1Loss'))(student, teacher).item() == pytest.approx(0.5)
    silog = MODELS.build(dict(type='SILogLoss', lambd=0.85))(student, teacher).item()
    assert silog == pytest.approx(LN2 * math.sqrt(0.5 - 0.85 / 4), abs=1e-6)


@pytest.mark.parametrize('s, t, expected', [
    ((1., 0.), (0., 1.), 2.0),                 # orthogonal unit vectors: |s - t|^2 = 2
    ((2., 0.), (5., 0.), 0.0),                 # same direction, any length
    ((1., 1.), (1., 0.), 2 - math.sqrt(2)),    # 2 - 2 cos 45°
])
def test_feature_l2_loss_on_normalised_features(s, t, expected):
    loss = MODELS.build(dict(type='FeatureL2Loss'))
    value = loss(torch.tensor(s).view(1, 2, 1, 1), torch.tensor(t).view(1, 2, 1, 1)).item()
    assert value == pytest.approx(expected, abs=1e-6)


def test_feature_l2_loss_without_normalisation_is_channel_sum_pixel_mean():
    s = torch.tensor([[1., 3.], [0., 0.]]).view(1, 2, 1, 2)       # pixels (1, 0) and (3, 0)
    t = torch.zeros(1, 2, 1, 2)
    loss = MODELS.build(dict(type='FeatureL2Loss', normalize=False))
    assert loss(s, t).item() == pytest.approx((1 + 9) / 2)
    assert loss.loss_name == 'loss_feat'
