"""Depth regression losses over valid pixels.

Every loss takes ``pred`` and ``target`` of shape (B, 1, H, W) in the same units (metres, or inverse depth) and an
optional boolean ``valid`` mask of the same shape; where no mask is given, ``target > 0`` is valid (0 marks
invalid ground truth throughout jdbench). An empty mask gives a zero loss that still depends on ``pred``.
"""
from typing import Optional

import torch
import torch.nn as nn
from torch import Tensor

from jdbench.registry import MODELS


def _valid(pred: Tensor, target: Tensor, valid: Optional[Tensor]) -> Tensor:
    if pred.shape != target.shape:
        raise ValueError(f'depth prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape')
    mask = target > 0
    return mask if valid is None else mask & valid.bool()


class _DepthLoss(nn.Module):
    """Shared plumbing: ``loss_weight`` and an mmseg-style ``loss_name`` (must start with ``loss_``)."""

    default_name = 'loss_depth'

    def __init__(self, loss_weight: float = 1.0, loss_name: Optional[str] = None) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name or self.default_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, pred: Tensor, target: Tensor, valid: Optional[Tensor] = None) -> Tensor:
        mask = _valid(pred, target, valid)
        if not mask.any():
            return pred.sum() * 0.
        return self.loss_weight * self.masked_loss(pred[mask], target[mask])

    def masked_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        """Loss over the valid pixels, given as flat tensors of shape (N,)."""
        raise NotImplementedError


@MODELS.register_module()
class DepthL1Loss(_DepthLoss):
    """Mean absolute error over valid pixels (the MTAN/LibMTL depth loss)."""

    default_name = 'loss_l1'

    def masked_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        return (pred - target).abs().mean()


@MODELS.register_module()
class SILogLoss(_DepthLoss):
    """Scale-invariant log loss (Eigen et al., NIPS 2014): sqrt(mean(g²) − λ·mean(g)²), g = log d̂ − log d.

    Args:
        lambd (float): 0 gives the plain log-RMSE, 1 full scale invariance. Defaults to 0.85.
        eps (float): floor for the prediction before the log. Defaults to 1e-3.
    """

    default_name = 'loss_silog'

    def __init__(self, lambd: float = 0.85, eps: float = 1e-3, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lambd = lambd
        self.eps = eps

    def masked_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        g = torch.log(pred.clamp(min=self.eps)) - torch.log(target)
        return torch.sqrt((g.pow(2).mean() - self.lambd * g.mean().pow(2)).clamp(min=1e-12))


@MODELS.register_module()
class BerHuLoss(_DepthLoss):
    """Reverse Huber loss (Laina et al., 3DV 2016): |x| below c, (x² + c²)/(2c) above; c = ``ratio``·max|x|."""

    default_name = 'loss_berhu'

    def __init__(self, ratio: float = 0.2, **kwargs) -> None:
        super().__init__(**kwargs)
        self.ratio = ratio

    def masked_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        diff = (pred - target).abs()
        c = (self.ratio * diff.max()).detach().clamp(min=1e-6)
        return torch.where(diff <= c, diff, (diff.pow(2) + c.pow(2)) / (2 * c)).mean()
