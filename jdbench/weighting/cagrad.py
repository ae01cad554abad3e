"""Conflict-Averse Gradient descent (Liu et al., NeurIPS 2021)."""
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

from jdbench.registry import WEIGHTINGS
from .base import BaseGradWeighting
from .solvers import cagrad_solver


@WEIGHTINGS.register_module()
class CAGrad(BaseGradWeighting):
    """CAGrad: Liu et al., "Conflict-Averse Gradient Descent for Multi-task Learning", NeurIPS 2021.

    ``d = g_0 + sqrt(phi) / |g_w| g_w`` with ``g_0`` the average gradient, ``phi = c^2 |g_0|^2`` and
    ``w = argmin_{w in simplex} g_w^T g_0 + sqrt(phi) |g_w|`` (SLSQP on the Gram matrix,
    :func:`~jdbench.weighting.solvers.cagrad_solver`); ``c = 0`` is the average gradient, large ``c`` tends to
    MGDA. ``rescale`` follows the authors' code: 0 keeps ``d``, 1 uses ``d / (1 + c^2)`` (default), 2 uses
    ``d / (1 + c)``. Heads: weight 1.

    Args:
        c (float): conflict-aversion radius (paper: 0.4 on NYUv2/Cityscapes, 0.5 in LibMTL).
        rescale (int): 0, 1 or 2 (see above).
    """

    def __init__(self, c: float = 0.4, rescale: int = 1, rep_grad: bool = False, balance: str = 'tasks',
                 objectives: Optional[Sequence[str]] = None) -> None:
        if c < 0 or rescale not in (0, 1, 2):
            raise ValueError('CAGrad needs c >= 0 and rescale in (0, 1, 2)')
        self.c, self.rescale = float(c), int(rescale)
        super().__init__(rep_grad=rep_grad, balance=balance, objectives=objectives)

    def coefficients(self, gram: Tensor, losses: Tensor, iteration: int) -> Tuple[Tensor, Tensor]:
        coef, _ = cagrad_solver(gram.cpu().numpy(), self.c)
        coef = torch.from_numpy(coef).to(gram)
        if self.rescale == 1:
            coef = coef / (1 + self.c**2)
        elif self.rescale == 2:
            coef = coef / (1 + self.c)
        self._record(coef)
        return coef, torch.ones_like(coef)
