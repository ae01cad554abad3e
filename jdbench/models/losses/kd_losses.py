"""Distillation losses: temperature KL between dense logits, normalised feature distance (KD4MTL).

Depth distillation reuses the depth losses (``DepthL1Loss``, ``SILogLoss``, ``BerHuLoss``) with the teacher's
depth as target. Every loss here takes ``(student, teacher)`` of the same shape, the teacher already detached
or computed without grad, and an optional boolean ``valid`` mask (B, 1, H, W).
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from jdbench.registry import MODELS

KL_DIRECTIONS = ('teacher_student', 'student_teacher')


def _masked_mean(per_pixel: Tensor, valid: Optional[Tensor]) -> Tensor:
    """Mean of a (B, H, W) map over the valid pixels (all pixels without a mask)."""
    if valid is None:
        return per_pixel.mean()
    valid = valid.reshape(per_pixel.shape).bool()
    return per_pixel[valid].mean() if valid.any() else per_pixel.sum() * 0.


@MODELS.register_module()
class TemperatureKLLoss(nn.Module):
    """Pixel-wise temperature-scaled KL divergence between class distributions (Hinton et al., 2015).

    With ``p = softmax(z_T / τ)`` and ``q = softmax(z_S / τ)`` over the C channels of every pixel:
    ``'teacher_student'``: τ² · KL(p ‖ q) = τ² Σ_c p_c (log p_c − log q_c) (the usual KD direction);
    ``'student_teacher'``: τ² · KL(q ‖ p). The result is the mean over (valid) pixels of the batch.

    Args:
        temperature (float): τ. Defaults to 1.
        kl_direction (str): ``'teacher_student'`` or ``'student_teacher'``.
        loss_weight (float): multiplier. Defaults to 1.
        loss_name (str): key of the term in the loss dict. Defaults to ``'loss_kl'``.
    """

    def __init__(self,
                 temperature: float = 1.0,
                 kl_direction: str = 'teacher_student',
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_kl') -> None:
        super().__init__()
        if kl_direction not in KL_DIRECTIONS:
            raise ValueError(f'kl_direction must be one of {KL_DIRECTIONS}, got {kl_direction!r}')
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        self.temperature = float(temperature)
        self.kl_direction = kl_direction
        self.loss_weight = loss_weight
        self.loss_name = loss_name

    def forward(self, student: Tensor, teacher: Tensor, valid: Optional[Tensor] = None) -> Tensor:
        """Logits (B, C, H, W) of both -> scalar."""
        if student.shape != teacher.shape:
            raise ValueError(f'student logits {tuple(student.shape)} and teacher logits '
                             f'{tuple(teacher.shape)} differ in shape (resize the teacher first)')
        tau = self.temperature
        log_q = F.log_softmax(student.float() / tau, dim=1)
        log_p = F.log_softmax(teacher.float() / tau, dim=1)
        if self.kl_direction == 'teacher_student':
            kl = (log_p.exp() * (log_p - log_q)).sum(dim=1)
        else:
            kl = (log_q.exp() * (log_q - log_p)).sum(dim=1)
        return self.loss_weight * tau**2 * _masked_mean(kl, valid)


@MODELS.register_module()
class FeatureL2Loss(nn.Module):
    """KD4MTL's feature loss: squared distance of channel-wise L2-normalised features.

    ``loss = mean_pixels Σ_c (ŝ_c − t̂_c)²`` with ``ŝ = s / ‖s‖₂`` and ``t̂ = t / ‖t‖₂`` over channels (when
    ``normalize``), i.e. ``2 − 2 cos(s, t)`` per pixel.

    Args:
        normalize (bool): L2-normalise both over channels first. Defaults to True.
        loss_weight (float): multiplier. Defaults to 1.
        loss_name (str): defaults to ``'loss_feat'``.
    """

    def __init__(self, normalize: bool = True, loss_weight: float = 1.0,
                 loss_name: str = 'loss_feat') -> None:
        super().__init__()
        self.normalize = normalize
        self.loss_weight = loss_weight
        self.loss_name = loss_name

    def forward(self, student: Tensor, teacher: Tensor, valid: Optional[Tensor] = None) -> Tensor:
        """Features (B, C, H, W) of both (the student's after its adaptor) -> scalar."""
        if student.shape != teacher.shape:
            raise ValueError(f'student feature {tuple(student.shape)} and teacher feature '
                             f'{tuple(teacher.shape)} differ in shape (adapt the channels and resize first)')
        if self.normalize:
            student, teacher = F.normalize(student.float(), dim=1), F.normalize(teacher.float(), dim=1)
        return self.loss_weight * _masked_mean((student - teacher).pow(2).sum(dim=1), valid)
