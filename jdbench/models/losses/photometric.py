"""Self-supervised (video) depth losses, as in Monodepth2 (Godard et al., ICCV 2019).

* :class:`SSIM`: the per-pixel structural dissimilarity ``clamp((1 − SSIM)/2, 0, 1)`` (3×3 mean filter,
  reflection padding, C1 = 0.01², C2 = 0.03²); :func:`ssim` is the SSIM index itself.
* :class:`PhotometricLoss`: ``pe = α·(1 − SSIM)/2 + (1 − α)·|a − b|`` (α = 0.85, channel means), the per-pixel
  minimum over the source frames, and auto-masking of stationary pixels (the unwarped sources join the
  minimum).
* :class:`EdgeAwareSmoothnessLoss`: ``mean |∂x d*|·e^{−|∂x I|} + mean |∂y d*|·e^{−|∂y I|}`` on the
  mean-normalised disparity ``d* = d / mean(d)``, weighted ``w / 2^s`` at scale s.

Images are (B, 3, H, W) in [0, 1]. The multi-scale loop (upsampling each scale's disparity to the input
resolution and warping) belongs to the model (:class:`jdbench.models.selfsup.Monodepth2`).
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from jdbench.registry import MODELS


def ssim(x: Tensor, y: Tensor, c1: float = 0.01 ** 2, c2: float = 0.03 ** 2) -> Tensor:
    """SSIM index per pixel and channel (B, C, H, W) with 3×3 mean filters over a reflection-padded image.

    ``SSIM = (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2))`` with the local (biased)
    moments of the 3×3 window.
    """
    if x.shape != y.shape:
        raise ValueError(f'SSIM needs images of one shape, got {tuple(x.shape)} and {tuple(y.shape)}')
    x, y = F.pad(x, (1, 1, 1, 1), mode='reflect'), F.pad(y, (1, 1, 1, 1), mode='reflect')
    mu_x, mu_y = F.avg_pool2d(x, 3, 1), F.avg_pool2d(y, 3, 1)
    sigma_x = F.avg_pool2d(x * x, 3, 1) - mu_x ** 2
    sigma_y = F.avg_pool2d(y * y, 3, 1) - mu_y ** 2
    sigma_xy = F.avg_pool2d(x * y, 3, 1) - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * sigma_xy + c2)
    den = (mu_x ** 2 + mu_y ** 2 + c1) * (sigma_x + sigma_y + c2)
    return num / den


@MODELS.register_module()
class SSIM(nn.Module):
    """Structural dissimilarity ``clamp((1 − SSIM)/2, 0, 1)`` per pixel and channel (B, C, H, W).

    Args:
        c1 (float): stabiliser of the mean term. Defaults to 0.01².
        c2 (float): stabiliser of the variance term. Defaults to 0.03².
    """

    def __init__(self, c1: float = 0.01 ** 2, c2: float = 0.03 ** 2) -> None:
        super().__init__()
        self.c1, self.c2 = c1, c2

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.clamp((1 - ssim(x, y, self.c1, self.c2)) / 2, 0, 1)


REDUCTIONS = ('min', 'mean')


@MODELS.register_module()
class PhotometricLoss(nn.Module):
    """Minimum reprojection loss with auto-masking (Monodepth2).

    For target ``I_t`` and source frames ``I_s`` (s = 1..S) warped into the target, ``Î_s``:

    ``pe(a, b) = α · mean_c SSIM(a, b) + (1 − α) · mean_c |a − b|``           (B, 1, H, W)

    ``L = mean_p min( pe(Î_1, I_t), ..., pe(Î_S, I_t), pe(I_1, I_t) + ε_1, ..., pe(I_S, I_t) + ε_S )``

    The identity terms ``pe(I_s, I_t)`` (unwarped sources) are the auto-mask: where a source frame that was
    not moved matches better than every warp (a static camera, an object moving with the camera, a
    texture-less region), the minimum picks it and the pixel gives the depth and pose networks no gradient;
    its value still counts in the mean. ``ε ~ N(0, noise²)`` breaks ties (noise = 1e-5 as Monodepth2).

    Args:
        ssim_weight (float): α. Defaults to 0.85.
        automask (bool): include the identity terms. Defaults to True.
        automask_noise (float): std of the tie-breaking noise on the identity terms. Defaults to 1e-5.
        reduction (str): how the reprojection terms of the sources combine: ``'min'`` (per-pixel minimum,
            Monodepth2) or ``'mean'`` (their average; the identity terms are averaged alike; Monodepth2's
            ``--avg_reprojection``). Defaults to ``'min'``.
        loss_weight (float): multiplier. Defaults to 1.
        loss_name (str): key of the term. Defaults to ``'loss_photo'``.
    """

    def __init__(self,
                 ssim_weight: float = 0.85,
                 automask: bool = True,
                 automask_noise: float = 1e-5,
                 reduction: str = 'min',
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_photo') -> None:
        super().__init__()
        if not 0 <= ssim_weight <= 1:
            raise ValueError(f'ssim_weight must be in [0, 1], got {ssim_weight}')
        if reduction not in REDUCTIONS:
            raise ValueError(f'reduction must be one of {REDUCTIONS}, got {reduction!r}')
        self.ssim_weight, self.automask, self.automask_noise = ssim_weight, automask, automask_noise
        self.reduction, self.loss_weight, self.loss_name = reduction, loss_weight, loss_name
        self.ssim = SSIM()

    def photometric_error(self, pred: Tensor, target: Tensor) -> Tensor:
        """``pe(pred, target)`` (B, 1, H, W) for images (B, 3, H, W)."""
        l1 = (target - pred).abs().mean(1, keepdim=True)
        if self.ssim_weight == 0:
            return l1
        return self.ssim_weight * self.ssim(pred, target).mean(1, keepdim=True) + (1 - self.ssim_weight) * l1

    def reprojection_map(self, target: Tensor, warped: Sequence[Tensor],
                         sources: Optional[Sequence[Tensor]] = None) -> Tuple[Tensor, Optional[Tensor]]:
        """The per-pixel loss (B, 1, H, W) and, with auto-masking, the identity selection (B, 1, H, W) bool
        (True where an unwarped source won: the auto-masked pixels).

        Args:
            target (Tensor): the target frame (B, 3, H, W).
            warped (list[Tensor]): each source frame warped into the target (B, 3, H, W).
            sources (list[Tensor], optional): the unwarped source frames, needed for auto-masking.
        """
        warped = list(warped)
        if not warped:
            raise ValueError('the photometric loss needs at least one source frame besides the target, got a '
                             'sequence with a single frame; train on frame triplets, e.g. '
                             'frame_ids=(0, -1, 1)')
        reproj = torch.cat([self.photometric_error(w, target) for w in warped], dim=1)
        if self.reduction == 'mean':
            reproj = reproj.mean(1, keepdim=True)
        if not self.automask:
            return reproj.min(dim=1, keepdim=True)[0], None
        if sources is None or len(sources) != len(warped):
            raise ValueError(f'auto-masking needs the {len(warped)} unwarped source frames (sources=...), '
                             f'got {0 if sources is None else len(sources)}; or set automask=False')
        identity = torch.cat([self.photometric_error(s, target) for s in sources], dim=1)
        if self.reduction == 'mean':
            identity = identity.mean(1, keepdim=True)
        if self.automask_noise > 0:
            identity = identity + torch.randn_like(identity) * self.automask_noise
        per_pixel, idx = torch.cat([identity, reproj], dim=1).min(dim=1, keepdim=True)
        return per_pixel, idx < identity.shape[1]

    def forward(self, target: Tensor, warped: Sequence[Tensor],
                sources: Optional[Sequence[Tensor]] = None) -> Tensor:
        """The scalar loss ``loss_weight · mean(reprojection_map)``."""
        return self.loss_weight * self.reprojection_map(target, warped, sources)[0].mean()


@MODELS.register_module()
class EdgeAwareSmoothnessLoss(nn.Module):
    """Edge-aware first-order smoothness of the mean-normalised disparity (Monodepth2's ``get_smooth_loss``).

    ``d* = d / (mean_{H,W} d + 1e-7)`` per image, then
    ``L = w / 2^s · ( mean |∂x d*|·exp(−mean_c |∂x I|) + mean |∂y d*|·exp(−mean_c |∂y I|) )``.

    Args:
        loss_weight (float): w. Defaults to 1e-3.
        normalize (bool): divide the disparity by its per-image mean. Defaults to True.
        loss_name (str): key of the term. Defaults to ``'loss_smooth'``.
    """

    def __init__(self, loss_weight: float = 1e-3, normalize: bool = True,
                 loss_name: str = 'loss_smooth') -> None:
        super().__init__()
        self.loss_weight, self.normalize, self.loss_name = loss_weight, normalize, loss_name

    def forward(self, disp: Tensor, img: Tensor, scale: int = 0) -> Tensor:
        """Disparity (B, 1, h, w), the image at the same size (B, 3, h, w) and the scale index s."""
        if disp.shape[2:] != img.shape[2:]:
            raise ValueError(f'disparity {tuple(disp.shape)} and image {tuple(img.shape)} must have one '
                             'size; resize the image to the scale of the disparity first')
        if self.normalize:
            disp = disp / (disp.mean(dim=(2, 3), keepdim=True) + 1e-7)
        dx = (disp[:, :, :, :-1] - disp[:, :, :, 1:]).abs()
        dy = (disp[:, :, :-1, :] - disp[:, :, 1:, :]).abs()
        ix = (img[:, :, :, :-1] - img[:, :, :, 1:]).abs().mean(1, keepdim=True)
        iy = (img[:, :, :-1, :] - img[:, :, 1:, :]).abs().mean(1, keepdim=True)
        smooth = (dx * torch.exp(-ix)).mean() + (dy * torch.exp(-iy)).mean()
        return self.loss_weight / (2 ** scale) * smooth
