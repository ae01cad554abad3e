"""Dual-Balancing Multi-Task Learning (Lin et al., 2023)."""
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

from jdbench.registry import WEIGHTINGS
from .base import BaseGradWeighting


@WEIGHTINGS.register_module()
class DBMTL(BaseGradWeighting):
    """DB-MTL: Lin et al., "Dual-Balancing for Multi-Task Learning", arXiv 2308.12029 (2023).

    - Loss-scale balancing: each objective is replaced by ``log(L_k + eps)``; its gradient is
      ``g_k / (L_k + eps)`` (computed from the accumulated gradient and loss, so gradient accumulation is
      exact).
    - Gradient-magnitude balancing: an EMA of those gradients,
      ``h_k <- beta_t h_k + (1 - beta_t) g_k / (L_k + eps)`` (``beta_t = beta / t^sigma``, ``h`` starts at 0),
      then every ``h_k`` is scaled to the largest norm: ``d = sum_k (max_j |h_j| / |h_k|) h_k``.

    The EMA ``h`` (K x number of shared parameters) is a buffer, so it is saved in checkpoints (as large as K
    copies of the shared parameters) and resized when loaded. Heads are trained by ``sum_k log L_k`` (weights
    ``1 / (L_k + eps)``). Gradients of the shared parameters only (the EMA is over parameters).

    Args:
        beta (float): EMA coefficient (LibMTL default 0.9).
        beta_sigma (float): decay exponent of ``beta_t`` (default 0: constant).
    """

    _lazy_buffers = ('grad_ema', )

    def __init__(self, beta: float = 0.9, beta_sigma: float = 0.0, eps: float = 1e-8, rep_grad: bool = False,
                 balance: str = 'tasks', objectives: Optional[Sequence[str]] = None) -> None:
        self.beta, self.beta_sigma, self.eps = float(beta), float(beta_sigma), float(eps)
        super().__init__(rep_grad=rep_grad, balance=balance, objectives=objectives)

    def init_state(self, num: int) -> None:
        self.register_buffer('grad_ema', torch.zeros(num, 0, device=self._device))
        self.register_buffer('num_steps', torch.zeros((), dtype=torch.long, device=self._device))

    def combine(self, grads: Tensor, losses: Tensor, iteration: int) -> Tuple[Tensor, Tensor]:
        scale = 1.0 / (losses.to(grads) + self.eps)
        log_grads = grads * scale[:, None]
        if self.grad_ema.shape != log_grads.shape:
            if self.grad_ema.numel():
                raise RuntimeError(f'DBMTL: the shared gradient changed size '
                                   f'({tuple(self.grad_ema.shape)} -> {tuple(log_grads.shape)})')
            self.grad_ema = torch.zeros_like(log_grads)
        self.num_steps += 1
        beta = self.beta / float(self.num_steps)**self.beta_sigma
        self.grad_ema.copy_(beta * self.grad_ema.to(log_grads) + (1 - beta) * log_grads)
        norms = self.grad_ema.norm(dim=1)
        alpha = norms.max() / (norms + 1e-8)
        self._record(alpha)
        return alpha @ self.grad_ema, scale
