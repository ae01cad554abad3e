"""Self-supervised depth losses: SSIM, minimum reprojection with auto-masking, edge-aware smoothness."""
import math

import numpy as np
import pytest
import torch

from jdbench.models.losses import SSIM, EdgeAwareSmoothnessLoss, PhotometricLoss, ssim
from jdbench.registry import MODELS

C1, C2 = 0.01 ** 2, 0.03 ** 2


def ssim_reference(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """SSIM of two (H, W) images written out pixel by pixel: 3x3 windows of the reflection-padded images."""
    xp, yp = np.pad(x, 1, mode='reflect'), np.pad(y, 1, mode='reflect')
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            a, b = xp[i:i + 3, j:j + 3].ravel(), yp[i:i + 3, j:j + 3].ravel()
            ma, mb = a.mean(), b.mean()
            va, vb = ((a - ma) ** 2).mean(), ((b - mb) ** 2).mean()
            cov = ((a - ma) * (b - mb)).mean()
            out[i, j] = (2 * ma * mb + C1) * (2 * cov + C2) / ((ma ** 2 + mb ** 2 + C1) * (va + vb + C2))
    return out


def texture(h: int, w: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, h, w, generator=g)


def test_ssim_matches_the_direct_formula():
    g = torch.Generator().manual_seed(3)
    x, y = torch.rand(1, 2, 5, 6, generator=g, dtype=torch.float64), torch.rand(1, 2, 5, 6, generator=g,
                                                                                dtype=torch.float64)
    got = ssim(x, y)
    for c in range(2):
        reference = ssim_reference(x[0, c].numpy(), y[0, c].numpy())
        np.testing.assert_allclose(got[0, c].numpy(), reference, rtol=1e-10)
    term = SSIM()(x, y)
    torch.testing.assert_close(term, torch.clamp((1 - got) / 2, 0, 1))
    # identical images: SSIM 1, dissimilarity 0
    torch.testing.assert_close(SSIM()(x, x), torch.zeros_like(x))


def test_photometric_error_of_two_constant_images():
    """pe = 0.85·(1 − SSIM)/2 + 0.15·L1; for constants a, b: SSIM = (2ab + C1)/(a² + b² + C1)."""
    loss = PhotometricLoss()
    a, b = 0.2, 0.5
    pe = loss.photometric_error(torch.full((1, 3, 4, 4), a), torch.full((1, 3, 4, 4), b))
    s = (2 * a * b + C1) / (a * a + b * b + C1)
    expected = 0.85 * (1 - s) / 2 + 0.15 * abs(a - b)
    assert pe.shape == (1, 1, 4, 4)
    torch.testing.assert_close(pe, torch.full_like(pe, expected))


def test_minimum_over_sources_is_per_pixel():
    loss = PhotometricLoss(automask=False)
    target = texture(8, 12, 0)
    w1, w2 = texture(8, 12, 1), texture(8, 12, 2)
    per_pixel, selection = loss.reprojection_map(target, [w1, w2])
    expected = torch.minimum(loss.photometric_error(w1, target), loss.photometric_error(w2, target))
    torch.testing.assert_close(per_pixel, expected)
    assert selection is None
    torch.testing.assert_close(loss(target, [w1, w2]), expected.mean())
    # the average of the sources instead (Monodepth2's --avg_reprojection)
    avg = PhotometricLoss(automask=False, reduction='mean')
    torch.testing.assert_close(
        avg(target, [w1, w2]),
        ((loss.photometric_error(w1, target) + loss.photometric_error(w2, target)) / 2).mean())


def test_automask_chooses_identity_on_a_static_pair():
    """A static pair (source == target) with a bad warp: the unwarped source wins at every pixel."""
    torch.manual_seed(0)
    loss = PhotometricLoss()
    target = texture(10, 14, 0)
    sources = [target.clone(), target.clone()]
    warped = [torch.roll(target, 2, dims=3), torch.roll(target, -1, dims=2)]
    per_pixel, selection = loss.reprojection_map(target, warped, sources)
    assert selection.dtype == torch.bool and selection.shape == (1, 1, 10, 14)
    assert selection.all()
    assert per_pixel.abs().max() < 1e-4          # the identity error (0) + the tie-breaking noise (1e-5)
    # without auto-masking the bad warp is what is left
    no_mask = PhotometricLoss(automask=False)
    assert no_mask(target, warped) > 0.05
    # a good warp of a moving camera (the static source differs) is chosen over the identity
    moved = [torch.roll(target, 3, dims=3)]
    _, selection = loss.reprojection_map(target, [target.clone()], moved)
    assert not selection.any()


def test_single_frame_is_a_clear_error():
    loss = PhotometricLoss()
    with pytest.raises(ValueError, match='single frame'):
        loss(texture(4, 4), [], [])
    with pytest.raises(ValueError, match='unwarped source'):
        loss(texture(4, 4), [texture(4, 4)])


def test_smoothness_on_a_known_ramp():
    """d(i, j) = 1 + 0.5 j on a flat image: |∂x d*| = 0.5/mean(d), |∂y d*| = 0 -> L = w/2^s · 0.5/mean(d)."""
    h, w = 4, 6
    ramp = (1 + 0.5 * torch.arange(w, dtype=torch.float64)).expand(1, 1, h, w).clone()
    flat = torch.full((1, 3, h, w), 0.3, dtype=torch.float64)
    mean = ramp.mean().item()                     # 2.25
    for scale in (0, 2):
        loss = EdgeAwareSmoothnessLoss(loss_weight=1e-3)(ramp, flat, scale)
        assert loss.item() == pytest.approx(1e-3 / 2 ** scale * 0.5 / (mean + 1e-7), rel=1e-9)
    # an image edge between columns 2 and 3 (step 0.6 in every channel) weights that difference by e^-0.6
    edge = flat.clone()
    edge[..., 3:] += 0.6
    expected = (4 * 0.5 + 0.5 * math.exp(-0.6)) / 5 / (mean + 1e-7)
    assert EdgeAwareSmoothnessLoss(loss_weight=1.)(ramp, edge).item() == pytest.approx(expected, rel=1e-9)
    # mean-normalised: the scale of the disparity does not matter
    smooth = EdgeAwareSmoothnessLoss()
    torch.testing.assert_close(smooth(3 * ramp, edge), smooth(ramp, edge))


def test_losses_are_registered():
    assert isinstance(MODELS.build(dict(type='PhotometricLoss', automask=False)), PhotometricLoss)
    assert isinstance(MODELS.build(dict(type='EdgeAwareSmoothnessLoss')), EdgeAwareSmoothnessLoss)
    assert isinstance(MODELS.build(dict(type='SSIM')), SSIM)
    with pytest.raises(ValueError, match='reduction'):
        PhotometricLoss(reduction='median')
