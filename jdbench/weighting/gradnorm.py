"""GradNorm (Chen et al., ICML 2018)."""
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

from jdbench.registry import WEIGHTINGS
from .base import BaseGradWeighting


@WEIGHTINGS.register_module()
class GradNorm(BaseGradWeighting):
    """GradNorm: Chen et al., "GradNorm: Gradient Normalization for Adaptive Loss Balancing in Deep Multitask
    Networks", ICML 2018.

    The step uses ``sum_k w_k L_k`` (shared and heads) with the current weights ``w`` (a buffer, init 1). Then
    the weights take one step on ``L_grad = sum_k |G_k - G_bar r_k^alpha|``, where ``G_k = w_k |g_k|`` is the
    gradient norm of the weighted objective, ``G_bar`` their mean, ``r_k = L~_k / mean(L~)`` the relative
    inverse training rate and ``L~_k = L_k(t) / L_k(0)`` (``L(0)``: the losses of the first update, a buffer);
    the target ``G_bar r_k^alpha`` is a constant. ``dL_grad/dw_k = sign(G_k - target_k) |g_k|``. Then
    ``w <- max(w - lr * dL_grad/dw, min_weight)`` and ``w`` is renormalised to ``sum_k w_k = K``.

    Own update rule (documented): the paper updates ``w`` with the network's optimizer; here ``w`` is a buffer
    stepped by plain gradient descent with ``lr`` inside the strategy, so the model's optimizer settings
    (weight decay, momentum, parameter-wise lr) never touch it and the renormalisation follows every step.
    ``|g_k|`` is taken over all shared parameters (the paper allows any subset ``W`` and uses the last shared
    layer to save time); ``rep_grad=True`` takes it w.r.t. the shared features instead, a cheaper stand-in.

    Args:
        alpha (float): restoring-force strength (paper: 1.5 on NYUv2).
        lr (float): step size of ``w``.
        min_weight (float): lower bound of a weight before renormalisation.
    """

    supports_rep_grad = True

    def __init__(self, alpha: float = 1.5, lr: float = 0.025, min_weight: float = 1e-3,
                 rep_grad: bool = False, balance: str = 'tasks',
                 objectives: Optional[Sequence[str]] = None) -> None:
        self.alpha, self.lr, self.min_weight = float(alpha), float(lr), float(min_weight)
        super().__init__(rep_grad=rep_grad, balance=balance, objectives=objectives)

    def init_state(self, num: int) -> None:
        dev = self._device
        self.register_buffer('loss_weights', torch.ones(num, device=dev))
        self.register_buffer('initial_losses', torch.ones(num, device=dev))
        self.register_buffer('initialized', torch.zeros((), dtype=torch.bool, device=dev))

    def coefficients(self, gram: Tensor, losses: Tensor, iteration: int) -> Tuple[Tensor, Tensor]:
        w = self.loss_weights.to(gram).clone()
        if not bool(self.initialized):
            self.initial_losses.copy_(losses.to(self.initial_losses))
            self.initialized.fill_(True)
        norms = gram.diagonal().clamp_min(0).sqrt()
        g_w = w * norms
        ratio = losses / self.initial_losses.to(gram).clamp_min(1e-12)
        rel = ratio / ratio.mean().clamp_min(1e-12)
        target = g_w.mean() * rel**self.alpha
        grad_w = torch.sign(g_w - target) * norms
        new = (w - self.lr * grad_w).clamp_min(self.min_weight)
        new = new * (len(new) / new.sum())
        self.loss_weights.copy_(new.to(self.loss_weights))
        self._record(w)
        return w, w.clone()
