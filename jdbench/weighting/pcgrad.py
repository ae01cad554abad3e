"""PCGrad: gradient surgery (Yu et al., NeurIPS 2020)."""
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

from jdbench.registry import WEIGHTINGS
from .base import BaseGradWeighting


@WEIGHTINGS.register_module()
class PCGrad(BaseGradWeighting):
    """Projecting conflicting gradients: Yu et al., "Gradient Surgery for Multi-Task Learning", NeurIPS 2020.

    For each objective ``i`` and each other objective ``j`` in random order: if ``g_i^PC . g_j < 0``,
    ``g_i^PC <- g_i^PC - (g_i^PC . g_j) / |g_j|^2 g_j`` (``g_j`` the original gradient); the shared update is
    ``sum_i g_i^PC``. Computed on the Gram matrix: ``g_i^PC`` is kept as coefficients over the original
    gradients, so the result is ``sum_k c_k g_k`` (the logged ``w.*`` are the ``c_k``). Heads: weight 1. The
    random order depends only on ``(seed, iteration)`` (identical on every DDP rank, reproducible on resume).

    Args:
        seed (int): seed of the random orders.
        self_projection (bool): ``False`` (default): ``j != i``, the paper's Algorithm 1. ``True``: ``j``
            runs over all K objectives in random order, ``i`` included, as in the authors' code and LibMTL;
            ``g_i^PC`` is then also projected onto the normal plane of its own original ``g_i`` when earlier
            projections have turned it against ``g_i`` (``g_i^PC . g_i < 0``, possible from K = 3). The two
            differ only in that case.
    """

    def __init__(self, seed: int = 0, self_projection: bool = False, rep_grad: bool = False,
                 balance: str = 'tasks', objectives: Optional[Sequence[str]] = None) -> None:
        self.seed = int(seed)
        self.self_projection = bool(self_projection)
        super().__init__(rep_grad=rep_grad, balance=balance, objectives=objectives)

    def coefficients(self, gram: Tensor, losses: Tensor, iteration: int) -> Tuple[Tensor, Tensor]:
        k = gram.shape[0]
        gen = self._generator(self.seed, iteration)
        rows = torch.eye(k, dtype=gram.dtype, device=gram.device)
        for i in range(k):
            for j in torch.randperm(k, generator=gen).tolist():
                if (j == i and not self.self_projection) or gram[j, j] <= 0:
                    continue
                dot = rows[i] @ gram[:, j]
                if dot < 0:
                    rows[i, j] -= dot / gram[j, j]
        coef = rows.sum(0)
        self._record(coef)
        return coef, torch.ones_like(coef)

    def extra_repr(self) -> str:
        return super().extra_repr() + f', seed={self.seed}, self_projection={self.self_projection}'
