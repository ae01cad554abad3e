"""Impartial Multi-Task Learning (Liu et al., ICLR 2021)."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from jdbench.registry import WEIGHTINGS
from .base import BaseGradWeighting


@WEIGHTINGS.register_module()
class IMTL(BaseGradWeighting):
    """IMTL: Liu et al., "Towards Impartial Multi-task Learning", ICLR 2021.

    - IMTL-G (gradient balance): the shared update ``d = sum_k a_k g_k``, ``sum_k a_k = 1``, has equal
      projections on every objective's unit gradient ``u_k = g_k / |g_k|``: with ``D = [g_1 - g_k]_k`` and
      ``U = [u_1 - u_k]_k`` (k = 2..K), ``a_{2:K} = g_1 U^T (D U^T)^-1`` and ``a_1 = 1 - sum a_{2:K}``
      (computed on the Gram matrix).
    - IMTL-L (loss balance): each objective's loss becomes ``exp(s_k) L_k - s_k`` with a learnable scale
      ``s_k`` (a parameter of the strategy, trained by the model's optimizer; init 0).

    ``mode='hybrid'`` (default; the paper's full IMTL) applies IMTL-G to the gradients of the IMTL-L-scaled
    losses, and the heads (and ``s``) are trained by the scaled losses (weight 1); ``mode='grad'`` is IMTL-G
    alone on the raw losses. ``rep_grad=True`` takes the gradients w.r.t. the shared features, which the paper
    suggests for efficiency.
    """

    supports_rep_grad = True

    def __init__(self, mode: str = 'hybrid', rep_grad: bool = False, balance: str = 'tasks',
                 objectives: Optional[Sequence[str]] = None) -> None:
        if mode not in ('hybrid', 'grad'):
            raise ValueError(f"IMTL mode must be 'hybrid' (IMTL-L + IMTL-G) or 'grad' (IMTL-G), got {mode!r}")
        self.mode = mode
        super().__init__(rep_grad=rep_grad, balance=balance, objectives=objectives)

    def init_state(self, num: int) -> None:
        if self.mode == 'hybrid':
            self.loss_scale = nn.Parameter(torch.zeros(num, device=self._device))

    def transform_losses(self, losses: List[Tensor]) -> List[Tensor]:
        if self.mode != 'hybrid':
            return losses
        return [torch.exp(s) * loss - s for s, loss in zip(self.loss_scale.unbind(0), losses)]

    def coefficients(self, gram: Tensor, losses: Tensor, iteration: int) -> Tuple[Tensor, Tensor]:
        k = gram.shape[0]
        alpha = torch.ones(k, dtype=gram.dtype, device=gram.device)
        if k > 1:
            inv_norm = 1.0 / gram.diagonal().clamp_min(1e-30).sqrt()
            a_d = torch.zeros(k - 1, k, dtype=gram.dtype, device=gram.device)
            a_u = torch.zeros_like(a_d)
            a_d[:, 0] = 1.0
            a_u[:, 0] = inv_norm[0]
            idx = torch.arange(k - 1)
            a_d[idx, idx + 1] = -1.0
            a_u[idx, idx + 1] = -inv_norm[1:]
            g1_u = gram[0] @ a_u.t()                      # (K-1,): g_1 U^T
            d_u = a_d @ gram @ a_u.t()                    # (K-1, K-1): D U^T
            # x (D U^T) = g_1 U^T
            rest = torch.linalg.lstsq(d_u.t(), g1_u.unsqueeze(1)).solution.squeeze(1)
            alpha = torch.cat([(1 - rest.sum()).reshape(1), rest])
        self._record(alpha)
        return alpha, torch.ones_like(alpha)
