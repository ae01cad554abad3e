"""MGDA-UB (Sener & Koltun, NeurIPS 2018)."""
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

from jdbench.registry import WEIGHTINGS
from .base import BaseGradWeighting
from .solvers import min_norm_solver


@WEIGHTINGS.register_module()
class MGDA(BaseGradWeighting):
    """Multiple-gradient descent: Sener & Koltun, "Multi-Task Learning as Multi-Objective Optimization",
    NeurIPS 2018.

    The shared update is the min-norm element of the convex hull of the objectives' gradients,
    ``d = sum_k a_k g_k`` with ``a = argmin_{a in simplex} |sum_k a_k g_k|^2`` (exact solver,
    :func:`~jdbench.weighting.solvers.min_norm_solver`). Each head is trained by its own loss (weight 1).
    ``rep_grad=True`` takes the gradients w.r.t. the shared representation: MGDA-UB, the paper's efficient
    upper-bound variant (one backward through the encoder instead of K).

    Args:
        normalization (str): gradient normalisation before solving, as in the authors' code: ``'none'``
            (default), ``'l2'`` (``g_k / |g_k|``), ``'loss'`` (``g_k / L_k``),
            ``'loss+'`` (``g_k / (L_k |g_k|)``).
    """

    supports_rep_grad = True

    def __init__(self, normalization: str = 'none', rep_grad: bool = False, balance: str = 'tasks',
                 objectives: Optional[Sequence[str]] = None) -> None:
        if normalization not in ('none', 'l2', 'loss', 'loss+'):
            raise ValueError("MGDA normalization must be 'none', 'l2', 'loss' or 'loss+', "
                             f'got {normalization!r}')
        self.normalization = normalization
        super().__init__(rep_grad=rep_grad, balance=balance, objectives=objectives)

    def coefficients(self, gram: Tensor, losses: Tensor, iteration: int) -> Tuple[Tensor, Tensor]:
        norms = gram.diagonal().clamp_min(0).sqrt()
        if self.normalization == 'l2':
            scale = norms
        elif self.normalization == 'loss':
            scale = losses
        elif self.normalization == 'loss+':
            scale = losses * norms
        else:
            scale = torch.ones_like(norms)
        scale = scale.clamp_min(1e-12)
        g = gram / (scale[:, None] * scale[None, :])
        alpha = torch.from_numpy(min_norm_solver(g.cpu().numpy())).to(gram)
        coef = alpha / scale
        self._record(coef)
        return coef, torch.ones_like(coef)
