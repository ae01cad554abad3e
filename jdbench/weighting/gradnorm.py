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

    The step uses ``sum_k w_k L_k`` (shared and heads) with the current weights ``w`` (init 1). Then the
    weights take one step on ``L_grad = sum_k |G_k - G_bar r_k^alpha|``, where ``G_k = w_k |g_k|`` is the
    gradient norm of the weighted objective, ``G_bar`` their mean, ``r_k = L~_k / mean(L~)`` the relative
    inverse training rate and ``L~_k = L_k(t) / L_k(0)`` (``L(0)``: the losses of the first update, a buffer);
    the target ``G_bar r_k^alpha`` is a constant. ``dL_grad/dw_k = sign(G_k - target_k) |g_k|``.

    Weight update (``rule``):

    - ``'paper'`` (default): ``w`` (buffer ``loss_weights``) takes the step,
      ``w <- max(w - step, min_weight)``, and is renormalised to ``sum_k w_k = K`` (the paper's Algorithm 1).
    - ``'libmtl'``: LibMTL's ``GradNorm``. ``w = K softmax(s)`` (buffer ``logits``, init 0: ``w = 1``, and the
      sum stays ``K``); ``s`` takes the step on ``dL_grad/ds``.

    The step is taken inside the strategy (``optimizer='sgd'``: ``lr * grad``; ``'adam'``: Adam with ``lr``,
    ``betas``, ``adam_eps``; both with L2 ``weight_decay``), so the model's optimizer settings (weight decay,
    momentum, parameter-wise lr, schedule) never touch it. LibMTL trains the logits with the network's
    optimizer: to follow its examples, set ``optimizer='adam'`` and the network's ``lr`` and ``weight_decay``
    (its lr schedule is not followed).

    Other options that reproduce LibMTL: ``warmup_iters`` (LibMTL: the iterations of the first epoch, with
    ``w = 1``; ``L(0)`` is then their mean loss, and the weights move from the next update) and
    ``weight_heads=False`` (LibMTL's heads get the unweighted ``L_k``; the shared parameters get
    ``sum_k w_k g_k`` in both).

    ``|g_k|`` is taken over all shared parameters (the paper allows any subset ``W`` and uses the last shared
    layer to save time; LibMTL uses all of them); ``rep_grad=True`` takes it w.r.t. the shared features
    instead, a cheaper stand-in.

    Args:
        alpha (float): restoring-force strength (paper: 1.5 on NYUv2).
        lr (float): step size of the weights (``rule='paper'``) or of the logits (``'libmtl'``).
        min_weight (float): lower bound of a weight before renormalisation (``rule='paper'``).
        rule (str): ``'paper'`` or ``'libmtl'`` (see above).
        optimizer (str): ``'sgd'`` (default) or ``'adam'``.
        weight_decay (float): L2 weight decay of the updated variable (added to its gradient).
        betas, adam_eps: Adam's coefficients (``optimizer='adam'``).
        warmup_iters (int): number of first updates with the initial weights, whose mean losses are ``L(0)``
            (0: ``L(0)`` are the losses of the first update, and the weights move from it).
        weight_heads (bool): the heads get ``w_k L_k`` (default) or the unweighted ``L_k`` (LibMTL).
    """

    supports_rep_grad = True

    def __init__(self, alpha: float = 1.5, lr: float = 0.025, min_weight: float = 1e-3, rule: str = 'paper',
                 optimizer: str = 'sgd', weight_decay: float = 0.0, betas: Tuple[float, float] = (0.9, 0.999),
                 adam_eps: float = 1e-8, warmup_iters: int = 0, weight_heads: bool = True,
                 rep_grad: bool = False, balance: str = 'tasks',
                 objectives: Optional[Sequence[str]] = None) -> None:
        if rule not in ('paper', 'libmtl'):
            raise ValueError(f"GradNorm rule must be 'paper' or 'libmtl', got {rule!r}")
        if optimizer not in ('sgd', 'adam'):
            raise ValueError(f"GradNorm optimizer must be 'sgd' or 'adam', got {optimizer!r}")
        if warmup_iters < 0:
            raise ValueError(f'GradNorm warmup_iters must be >= 0, got {warmup_iters}')
        self.alpha, self.lr, self.min_weight = float(alpha), float(lr), float(min_weight)
        self.rule, self.optimizer, self.weight_decay = rule, optimizer, float(weight_decay)
        self.betas, self.adam_eps = tuple(float(b) for b in betas), float(adam_eps)
        self.warmup_iters, self.weight_heads = int(warmup_iters), bool(weight_heads)
        super().__init__(rep_grad=rep_grad, balance=balance, objectives=objectives)

    def init_state(self, num: int) -> None:
        dev = self._device
        if self.rule == 'paper':
            self.register_buffer('loss_weights', torch.ones(num, device=dev))
        else:
            self.register_buffer('logits', torch.zeros(num, device=dev))
        self.register_buffer('initial_losses', torch.ones(num, device=dev))
        self.register_buffer('initialized', torch.zeros((), dtype=torch.bool, device=dev))
        if self.warmup_iters > 0:
            self.register_buffer('warmup_done', torch.zeros((), dtype=torch.long, device=dev))
        if self.optimizer == 'adam':
            self.register_buffer('exp_avg', torch.zeros(num, device=dev))
            self.register_buffer('exp_avg_sq', torch.zeros(num, device=dev))
            self.register_buffer('num_updates', torch.zeros((), dtype=torch.long, device=dev))

    @property
    def current_weights(self) -> Tensor:
        """The current loss weights ``w`` (K,)."""
        if self.rule == 'paper':
            return self.loss_weights
        return len(self.logits) * torch.softmax(self.logits, 0)

    def coefficients(self, gram: Tensor, losses: Tensor, iteration: int) -> Tuple[Tensor, Tensor]:
        w = self.current_weights.to(gram).clone()
        head = w.clone() if self.weight_heads else torch.ones_like(w)
        self._record(w)
        if not bool(self.initialized):
            if self.warmup_iters == 0:
                self.initial_losses.copy_(losses.to(self.initial_losses))
                self.initialized.fill_(True)
            else:   # L(0): the running mean of the losses of the warm-up updates; the weights do not move
                n = int(self.warmup_done)
                mean = (self.initial_losses.to(losses) * n + losses) / (n + 1) if n else losses
                self.initial_losses.copy_(mean.to(self.initial_losses))
                self.warmup_done += 1
                self.initialized.fill_(n + 1 == self.warmup_iters)
                return w, head
        norms = gram.diagonal().clamp_min(0).sqrt()
        g_w = w * norms
        ratio = losses / self.initial_losses.to(gram).clamp_min(1e-12)
        rel = ratio / ratio.mean().clamp_min(1e-12)
        target = g_w.mean() * rel**self.alpha
        grad_w = torch.sign(g_w - target) * norms
        if self.rule == 'paper':
            new = (w - self._step(grad_w, w)).clamp_min(self.min_weight)
            new = new * (len(new) / new.sum())
            self.loss_weights.copy_(new.to(self.loss_weights))
        else:       # w = K softmax(s): dL/ds = J^T dL/dw = K z * (dL/dw - z . dL/dw)
            s = self.logits.to(gram)
            z = torch.softmax(s, 0)
            grad_s = len(z) * z * (grad_w - (z * grad_w).sum())
            self.logits.copy_((s - self._step(grad_s, s)).to(self.logits))
        return w, head

    def _step(self, grad: Tensor, x: Tensor) -> Tensor:
        """The decrement of ``x`` for gradient ``grad``: SGD or Adam (torch.optim.Adam's rule, L2 decay)."""
        if self.weight_decay:
            grad = grad + self.weight_decay * x
        if self.optimizer == 'sgd':
            return self.lr * grad
        self.num_updates += 1
        b1, b2 = self.betas
        t = int(self.num_updates)
        self.exp_avg.mul_(b1).add_((1 - b1) * grad.to(self.exp_avg))
        self.exp_avg_sq.mul_(b2).add_((1 - b2) * (grad * grad).to(self.exp_avg_sq))
        denom = (self.exp_avg_sq.to(grad) / (1 - b2**t)).sqrt() + self.adam_eps
        return self.lr * (self.exp_avg.to(grad) / (1 - b1**t)) / denom

    def extra_repr(self) -> str:
        return (super().extra_repr() + f', rule={self.rule!r}, optimizer={self.optimizer!r}, '
                f'warmup_iters={self.warmup_iters}, weight_heads={self.weight_heads}')
