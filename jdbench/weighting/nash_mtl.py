"""Nash-MTL (Navon et al., ICML 2022)."""
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

from jdbench.registry import WEIGHTINGS
from .base import BaseGradWeighting
from .solvers import nash_solver


@WEIGHTINGS.register_module()
class NashMTL(BaseGradWeighting):
    """Nash-MTL: Navon et al., "Multi-Task Learning as a Bargaining Game", ICML 2022.

    The update is ``d = G a`` with ``a`` the Nash bargaining solution, the positive solution of
    ``G^T G a = 1 / a`` (elementwise). The paper (and the authors' code) approximate it by a sequence of
    convex programs solved with cvxpy; jdbench solves the same equation exactly without cvxpy: it is the
    stationarity condition of the strictly convex ``a^T G^T G a / 2 - sum log a`` and is solved by damped
    Newton steps to ``max_i |a_i (G^T G a)_i - 1| < 1e-12`` (:func:`~jdbench.weighting.solvers.nash_solver`).
    Following the authors' code, the heads are trained with the same weights (``sum_k a_k L_k``).

    Differences from the authors' code (documented in docs/weighting.md): they solve on ``G^T G / |G^T G|_F``
    and use that solution directly (an update ``sqrt(|G^T G|_F)`` times longer than the paper's ``G a``, whose
    norm is always ``sqrt(K)``), clip the shared gradient to ``max_norm = 1`` and can re-solve only every few
    steps; jdbench uses the paper's ``a`` every step and no clipping (use the OptimWrapper's ``clip_grad``).
    """

    def __init__(self, rep_grad: bool = False, balance: str = 'tasks',
                 objectives: Optional[Sequence[str]] = None) -> None:
        super().__init__(rep_grad=rep_grad, balance=balance, objectives=objectives)

    def coefficients(self, gram: Tensor, losses: Tensor, iteration: int) -> Tuple[Tensor, Tensor]:
        alpha = torch.from_numpy(nash_solver(gram.cpu().numpy())).to(gram)
        self._record(alpha)
        return alpha, alpha.clone()
