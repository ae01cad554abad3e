"""Gradient Vaccine (Wang et al., ICLR 2021)."""
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

from jdbench.registry import WEIGHTINGS
from .base import BaseGradWeighting


@WEIGHTINGS.register_module()
class GradVac(BaseGradWeighting):
    """Gradient Vaccine: Wang et al., "Gradient Vaccine: Investigating and Improving Multi-task Optimization
    in Massively Multilingual Models", ICLR 2021.

    Like PCGrad, but towards an adaptive similarity target: for each pair ``(i, j)`` (``j`` in random order),
    ``phi = cos(g_i^PC, g_j)``; if ``phi < phi_hat_ij`` (with ``s(x) = sqrt(1 - x^2)``),

        ``g_i^PC += |g_i^PC| (phi_hat s(phi) - phi s(phi_hat)) / (|g_j| s(phi_hat)) g_j``

    then ``phi_hat_ij <- (1 - beta) phi_hat_ij + beta phi``. The targets ``phi_hat`` (K x K, init 0) are a
    buffer. The update is ``sum_i g_i^PC``; heads: weight 1. Granularity: the whole shared gradient is one
    group (the paper also studies per-layer groups; not implemented). With ``phi_hat = 0`` a step equals
    PCGrad's.
    """

    def __init__(self, beta: float = 0.01, seed: int = 0, rep_grad: bool = False, balance: str = 'tasks',
                 objectives: Optional[Sequence[str]] = None) -> None:
        self.beta = float(beta)
        self.seed = int(seed)
        super().__init__(rep_grad=rep_grad, balance=balance, objectives=objectives)

    def init_state(self, num: int) -> None:
        self.register_buffer('rho_hat', torch.zeros(num, num, device=self._device))

    def coefficients(self, gram: Tensor, losses: Tensor, iteration: int) -> Tuple[Tensor, Tensor]:
        k = gram.shape[0]
        gen = self._generator(self.seed, iteration)
        rows = torch.eye(k, dtype=gram.dtype, device=gram.device)
        rho_hat = self.rho_hat.to(gram)
        norms = gram.diagonal().clamp_min(0).sqrt()
        for i in range(k):
            for j in torch.randperm(k, generator=gen).tolist():
                if j == i or norms[j] <= 0:
                    continue
                norm_i = (rows[i] @ gram @ rows[i]).clamp_min(0).sqrt()
                if norm_i <= 0:
                    continue
                phi = ((rows[i] @ gram[:, j]) / (norm_i * norms[j])).clamp(-1.0, 1.0)
                target = rho_hat[i, j]
                if phi < target:
                    sq_t = (1 - target**2).clamp_min(1e-12).sqrt()
                    sq_phi = (1 - phi**2).clamp_min(0).sqrt()
                    step = norm_i * (target * sq_phi - phi * sq_t) / (norms[j] * sq_t)
                    rows[i, j] += step
                rho_hat[i, j] = (1 - self.beta) * target + self.beta * phi
        self.rho_hat.copy_(rho_hat.to(self.rho_hat))
        coef = rows.sum(0)
        self._record(coef)
        return coef, torch.ones_like(coef)
