"""A tiny model that follows jdbench's model contract, for the weighting tests.

Shared ``Linear(4, 6) + tanh`` backbone, two task heads (``seg``, ``depth``: linear regressions here) and,
optionally, two frozen "teachers" giving ``kd.seg`` / ``kd.depth`` terms and an extra ``feat.loss_feat`` term.
It declares its objectives and trains through ``weighted_train_step`` with a :class:`WeightedOptimWrapper`.
"""
from typing import Dict, List, Optional

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from torch import Tensor

from jdbench.engine.optimizers import weighted_train_step
from jdbench.models.objectives import Objective, distill_objectives, task_objectives
from jdbench.weighting import build_weighting


class ToyJoint(BaseModel):
    """``data = dict(inputs=(B, 4), data_samples=(B, 2) targets)``; ``mode='loss'`` returns
    ``seg.loss_mse``, ``depth.loss_l1`` (+ ``seg.acc_fake``, a logged non-loss), and with ``distill=True``
    ``kd.seg.loss_kd``, ``kd.depth.loss_kd`` and ``feat.loss_feat``."""

    def __init__(self, weighting: Optional[dict] = None, distill: bool = False, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.backbone = nn.Linear(4, 6)
        self.heads = nn.ModuleDict(dict(seg=nn.Linear(6, 1), depth=nn.Linear(6, 1)))
        for p in self.parameters():
            with torch.no_grad():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
        self.distill = distill
        self.teachers = nn.ModuleDict(dict(seg=nn.Linear(4, 1), depth=nn.Linear(4, 1))) if distill else None
        if self.teachers is not None:
            for p in self.teachers.parameters():
                with torch.no_grad():
                    p.copy_(torch.randn(p.shape, generator=gen))
                p.requires_grad_(False)
        self.shared_rep = None
        self.weighting = None
        if weighting is not None:
            self.weighting = build_weighting(weighting, objectives=self.objectives())

    @property
    def task_names(self) -> List[str]:
        return list(self.heads.keys())

    @property
    def teacher_names(self) -> List[str]:
        return list(self.teachers.keys()) if self.teachers is not None else []

    def objectives(self) -> List[Objective]:
        return task_objectives(self.task_names) + distill_objectives(self.teacher_names)

    def shared_modules(self) -> List[nn.Module]:
        return [self.backbone]

    def forward(self, inputs: Tensor, data_samples: Optional[Tensor] = None, mode: str = 'tensor'):
        feat = torch.tanh(self.backbone(inputs))
        outs = {t: h(feat).squeeze(1) for t, h in self.heads.items()}
        if mode == 'tensor':
            return outs
        self.shared_rep = (feat, )
        y = data_samples
        losses: Dict[str, Tensor] = {
            'seg.loss_mse': ((outs['seg'] - y[:, 0])**2).mean(),
            'seg.acc_fake': (outs['seg'] - y[:, 0]).abs().lt(0.5).float().mean(),
            'depth.loss_l1': (outs['depth'] - y[:, 1]).abs().mean(),
        }
        if self.distill:
            for t, teacher in self.teachers.items():
                losses[f'kd.{t}.loss_kd'] = 0.5 * ((outs[t] - teacher(inputs).squeeze(1))**2).mean()
            losses['feat.loss_feat'] = 0.1 * (feat**2).mean()
        return losses

    def train_step(self, data, optim_wrapper):
        return weighted_train_step(self, data, optim_wrapper)


def toy_batch(n: int = 8, seed: int = 1) -> dict:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=gen)
    y = torch.stack([x[:, 0] - 2 * x[:, 1], 3 * x[:, 2] + 0.5 * x[:, 3]], dim=1)
    y = y + 0.1 * torch.randn(n, 2, generator=gen)
    return dict(inputs=x, data_samples=y)
