"""Aligned-MTL (Senushkin et al., CVPR 2023)."""
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import Tensor

from jdbench.registry import WEIGHTINGS
from .base import BaseGradWeighting


@WEIGHTINGS.register_module()
class AlignedMTL(BaseGradWeighting):
    """Aligned-MTL: Senushkin et al., "Independent Component Alignment for Multi-Task Learning", CVPR 2023.

    Aligns the principal components of the gradient matrix so that the linear system is well conditioned. With
    ``G G^T = V L V^T`` (kept: the eigenvalues above ``rank_tol``, by default the numerical rank
    ``lambda_max * K * eps_float32``), ``B = sqrt(lambda_min) V L^-1/2 V^T`` and the aligned gradients
    ``G_hat = B G`` are orthogonal, all of norm ``sqrt(lambda_min)`` when ``G`` has full rank. The update is
    ``G_hat^T w`` with the task weights ``w`` (default 1 each), i.e. ``d = sum_k (B w)_k g_k``; the heads get
    weight 1. ``rep_grad=True`` is the paper's Aligned-MTL-UB (gradients w.r.t. the shared representation).

    Args:
        task_weights (dict[str, float], optional): ``w`` (default 1 for every objective).
        rank_tol (float, optional): absolute eigenvalue threshold relative to ``lambda_max``
            (default ``K * eps_float32``).
    """

    supports_rep_grad = True

    def __init__(self, task_weights: Optional[Dict[str, float]] = None, rank_tol: Optional[float] = None,
                 rep_grad: bool = False, balance: str = 'tasks',
                 objectives: Optional[Sequence[str]] = None) -> None:
        self.task_weights = dict(task_weights or {})
        self.rank_tol = rank_tol
        super().__init__(rep_grad=rep_grad, balance=balance, objectives=objectives)

    def init_state(self, num: int) -> None:
        unknown = sorted(set(self.task_weights) - set(self.objectives))
        if unknown:
            raise KeyError(f'AlignedMTL: task_weights for unknown objectives {unknown}; '
                           f'objectives: {self.objectives}')

    def coefficients(self, gram: Tensor, losses: Tensor, iteration: int) -> Tuple[Tensor, Tensor]:
        k = gram.shape[0]
        w = torch.tensor([float(self.task_weights.get(o, 1.0)) for o in self.objectives] if self.objectives
                         else [1.0] * k, dtype=gram.dtype, device=gram.device)
        evals, evecs = torch.linalg.eigh(gram)
        lam_max = evals.max()
        if lam_max <= 0:
            coef = torch.zeros(k, dtype=gram.dtype, device=gram.device)
        else:
            rel = self.rank_tol if self.rank_tol is not None else k * torch.finfo(torch.float32).eps
            keep = evals > lam_max * rel
            lam, vec = evals[keep], evecs[:, keep]
            balance = lam.min().sqrt() * (vec * lam.rsqrt()) @ vec.t()
            coef = balance @ w
        self._record(coef)
        return coef, torch.ones_like(coef)
