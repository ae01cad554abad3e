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

        ``total = factor * sum_k (exp(-s_k) L_k + s_k)``

    ``factor=1`` (default) is the common form, which drops the paper's 1/2 factors. ``factor=0.5`` is the
    paper's regression form ``L / (2 sigma^2) + log sigma`` and LibMTL's ``UW`` (for every task; with its
    initial value ``init_log_var=-0.5``). The paper's classification form ``L / sigma^2 + log sigma`` is the
    regression form with ``s`` shifted by ``ln 2``, so it trains the same way from a shifted initial value. At
    the optimum of ``s``, ``exp(s_k) = L_k`` in both forms; ``factor`` scales the weighted losses and the
    regulariser together (not the extra terms).

    The weights ``factor * exp(-s_k)`` are logged. ``s`` is trained by the model's optimizer (``s`` is a
    parameter of ``model.weighting``), so it must exist when the optimizer is built: build the strategy with
    the model's objectives (``build_weighting(cfg, objectives=model.objectives())``).

    Args:
        init_log_var (float): initial ``s_k`` (0: all weights start at ``factor``).
        factor (float): the factor of the total (1: common form; 0.5: the paper's regression form, LibMTL).
    """

    def __init__(self, init_log_var: float = 0.0, factor: float = 1.0, balance: str = 'tasks',
                 objectives: Optional[Sequence[str]] = None) -> None:
        if factor <= 0:
            raise ValueError(f'UW factor must be > 0 (1: common form, 0.5: the paper / LibMTL), got {factor}')
        self.init_log_var, self.factor = float(init_log_var), float(factor)
        super().__init__(balance=balance, objectives=objectives)

    def init_state(self, num: int) -> None:
        self.log_vars = nn.Parameter(torch.full((num, ), self.init_log_var, device=self._device))

    def compute_weights(self, losses: Tensor, iteration: int) -> Tensor:
        weights = torch.exp(-self.log_vars)
        return weights if self.factor == 1.0 else self.factor * weights

    def regularizer(self) -> Tensor:
        reg = self.log_vars.sum()
        return reg if self.factor == 1.0 else self.factor * reg

    def extra_repr(self) -> str:
        return super().extra_repr() + f', factor={self.factor}'
