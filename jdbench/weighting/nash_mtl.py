"""Nash-MTL (Navon et al., ICML 2022)."""
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import Tensor

from jdbench.registry import WEIGHTINGS
from .base import BaseGradWeighting
from .solvers import nash_solver


@WEIGHTINGS.register_module()
class NashMTL(BaseGradWeighting):
    """Nash-MTL: Navon et al., "Multi-Task Learning as a Bargaining Game", ICML 2022.

    The update is ``d = G a`` with ``a`` the Nash bargaining solution, the positive solution of
    ``G^T G a = 1 / a`` (elementwise); ``|d| = sqrt(a^T G^T G a) = sqrt(K)``. The paper (and the authors'
    code) approximate ``a`` by a sequence of convex programs solved with cvxpy; jdbench solves the equation
    without cvxpy, by damped Newton steps to ``max_i |a_i (G^T G a)_i - 1| < 1e-12``
    (:func:`~jdbench.weighting.solvers.nash_solver`). As in the authors' code, the heads are trained with the
    same weights (``sum_k a_k L_k``).

    If the equation has no solution (the gradients have a nonnegative combination equal to zero), the solver
    adds a small ridge and warns; the buffer ``solver_fallbacks`` counts these steps since the run (or resume)
    started (a non-persistent buffer: checkpoints saved without it still load).

    Reference implementations (the authors' code, and LibMTL's ``Nash_MTL``, adapted from it) compute the same
    ``a``: they solve on ``G^T G / |G^T G|_F``, but their constraint carries the normalisation factor back
    (``a_i (G^T G a)_i >= 1``). Their update differs in two ways (see docs/weighting.md):

    - they clip the shared gradient to norm ``max_norm = 1`` (``clip_grad_norm_`` on the shared parameters,
      not the heads). ``|G a| = sqrt(K) > 1``, so without clipping (jdbench's default) the shared step is
      ``sqrt(K)`` times theirs. ``max_norm=1.0`` reproduces their update;
    - they can re-solve only every ``update_weights_every`` steps (default 1); not implemented.

    Args:
        max_norm (float): if > 0, the shared update ``d`` is scaled by
            ``min(1, max_norm / (|d| + 1e-6))``, as ``torch.nn.utils.clip_grad_norm_`` does (the references
            use 1.0). 0 (default): no clipping. The logged ``w.*`` are then the clipped coefficients; the
            heads keep ``a``.
    """

    def __init__(self, max_norm: float = 0.0, rep_grad: bool = False, balance: str = 'tasks',
                 objectives: Optional[Sequence[str]] = None) -> None:
        if max_norm < 0:
            raise ValueError(f'NashMTL max_norm must be >= 0 (0: no clipping), got {max_norm}')
        self.max_norm = float(max_norm)
        super().__init__(rep_grad=rep_grad, balance=balance, objectives=objectives)
        # not in the state dict, so that checkpoints saved without it still load
        self.register_buffer('solver_fallbacks', torch.zeros((), dtype=torch.long), persistent=False)

    def logged_state(self) -> Dict[str, Tensor]:
        return {'solver_fallbacks': self.solver_fallbacks.detach().clone()}

    def coefficients(self, gram: Tensor, losses: Tensor, iteration: int) -> Tuple[Tensor, Tensor]:
        solution = nash_solver(gram.cpu().numpy())
        if solution.ridge > 0:
            self.solver_fallbacks += 1
        alpha = torch.from_numpy(solution.alpha).to(gram)
        coef = alpha
        if self.max_norm > 0:   # |d|^2 = a^T G^T G a over the shared parameters
            norm = float((alpha @ gram @ alpha).clamp_min(0).sqrt())
            coef = alpha * min(1.0, self.max_norm / (norm + 1e-6))
        self._record(coef)
        return coef, alpha.clone()

    def extra_repr(self) -> str:
        return super().extra_repr() + f', max_norm={self.max_norm}'
