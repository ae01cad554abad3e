"""kd_static: per-task logit distillation straight from each teacher, with fixed weights."""
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.utils import ConfigType, SampleList
from torch import Tensor

from jdbench.registry import MODELS
from ..teachers import TeacherOutput
from .base import BaseDistiller

DEPTH_KD_MASKS = ('all', 'gt')


@MODELS.register_module()
class KDStatic(BaseDistiller):
    """Static multi-teacher logit distillation.

    For every teacher i (named after its task): ``kd.<i>.<term> = L_i^KD(p_i^S, resize(p_i^T))`` at the
    student's output resolution: temperature KL for a segmentation task, a depth loss (L1 / SILog / berHu)
    against the teacher's depth for a depth task. With ``weighting=dict(type='Fixed', balance='distill',
    weights={'kd.seg': 1., 'kd.depth': 1.})`` the total is ``Σ_i L_i^GT + Σ_i L_i^KD``.

    Args:
        kd_losses (dict[str, dict]): task -> KD loss config. Defaults: ``TemperatureKLLoss`` (τ=1,
            ``kl_direction='teacher_student'``) for segmentation tasks, ``DepthL1Loss`` for depth tasks.
        depth_kd_mask (str): pixels of the depth KD term: ``'all'`` (default; the teacher's depth is defined
            everywhere) or ``'gt'`` (only where the ground truth is valid).
        Others: see :class:`BaseDistiller`.
    """

    def __init__(self,
                 student: ConfigType,
                 teachers: Dict[str, Optional[ConfigType]],
                 kd_losses: Optional[Dict[str, ConfigType]] = None,
                 depth_kd_mask: str = 'all',
                 **kwargs) -> None:
        super().__init__(student, teachers, **kwargs)
        if depth_kd_mask not in DEPTH_KD_MASKS:
            raise ValueError(f'depth_kd_mask must be one of {DEPTH_KD_MASKS}, got {depth_kd_mask!r}')
        self.depth_kd_mask = depth_kd_mask
        kd_losses = dict(kd_losses or {})
        unknown = sorted(set(kd_losses) - set(self.student.task_names))
        if unknown:
            raise KeyError(f'kd_losses given for unknown tasks {unknown}; tasks: {self.student.task_names}')
        defaults = dict(seg=dict(type='TemperatureKLLoss'), depth=dict(type='DepthL1Loss'))
        self.kd_losses = nn.ModuleDict({
            name: MODELS.build(kd_losses.get(name) or defaults[self.student.task_kind(name)])
            for name in self.teachers
        })

    def kd_terms(self, name: str, student_out: Tensor, target: Tensor,
                 data_samples: SampleList) -> Dict[str, Tensor]:
        """``{'kd.<name>.<term>': loss}`` between the student's raw output and a (detached) target."""
        target = self._resize_to(target.detach(), student_out)
        valid = None
        if self.depth_kd_mask == 'gt' and self.student.task_kind(name) == 'depth':
            gt = torch.stack([s.gt_depth_map.data for s in data_samples]).to(student_out)
            valid = F.interpolate(gt, size=student_out.shape[2:], mode='nearest') > 0
        loss = self.kd_losses[name]
        return {f'kd.{name}.{loss.loss_name}': loss(student_out, target, valid)}

    def distill_losses(self, inputs: Tensor, data_samples: SampleList, feats: Tuple[Tensor, ...],
                       outs: Dict[str, Tensor], teacher_outs: Dict[str, TeacherOutput]) -> Dict[str, Tensor]:
        losses = {}
        for name, t_out in teacher_outs.items():
            losses.update(self.kd_terms(name, outs[name], t_out.out, data_samples))
        return losses
