"""Uncertainty weighting (Kendall, Gal & Cipolla, CVPR 2018)."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
from torch import Tensor

from jdbench.registry import WEIGHTINGS
from .base import BaseLossWeighting


@WEIGHTINGS.register_module()
class UW(BaseLossWeighting):
    """Homoscedastic uncertainty weighting: Kendall et al., "Multi-Task Learning Using Uncertainty to Weigh
    Losses for Scene Geometry and Semantics", CVPR 2018.

    With one learnable log-variance ``s_k = log sigma_k^2`` per objective, the total loss is

        ``total = sum_k exp(-s_k) L_k + s_k``

    (the common form that drops the paper's 1/2 factors for regression and uses the same form for
    classification). The weights ``exp(-s_k)`` are logged; ``s`` is trained by the model's optimizer
    (``s`` is a parameter of ``model.weighting``), so it must exist when the optimizer is built: build the
    strategy with the model's objectives (``build_weighting(cfg, objectives=model.objectives())``).

    Args:
        init_log_var (float): initial ``s_k`` (0: all weights start at 1).
    """

    def __init__(self, init_log_var: float = 0.0, balance: str = 'tasks',
                 objectives: Optional[Sequence[str]] = None) -> None:
        self.init_log_var = float(init_log_var)
        super().__init__(balance=balance, objectives=objectives)

    def init_state(self, num: int) -> None:
        self.log_vars = nn.Parameter(torch.full((num, ), self.init_log_var, device=self._device))

    def compute_weights(self, losses: Tensor, iteration: int) -> Tensor:
        return torch.exp(-self.log_vars)

    def regularizer(self) -> Tensor:
        return self.log_vars.sum()
