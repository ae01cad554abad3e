"""Fast Adaptive Multitask Optimization (Liu et al., NeurIPS 2023)."""
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

from jdbench.registry import WEIGHTINGS
from .base import BaseLossWeighting


@WEIGHTINGS.register_module()
class FAMO(BaseLossWeighting):
    """FAMO: Liu et al., "FAMO: Fast Adaptive Multitask Optimization", NeurIPS 2023 (arXiv 2306.03792).

    Logits ``xi`` (buffer), ``z = softmax(xi)``. The update direction is that of ``sum_k z_k log(L_k - L*_k)``
    normalised by ``c = (sum_k z_k / D_k)^-1``, ``D_k = L_k - L*_k + eps``: loss weights ``w_k = c z_k / D_k``
    (detached, so it costs one backward, like EW). After the optimizer step the logits move so that every
    objective's log-loss decreases at the same rate: ``delta = J_softmax(xi)^T (log D(t) - log D(t+1))`` and
    ``xi <- xi - lr (delta + gamma xi)``.

    ``D(t+1)`` is the loss after the step. ``post_step='same_batch'`` (default, as the paper and the authors'
    code) re-evaluates the losses on the same batch after the step: one extra forward without backward per
    step, through the ``loss_fn`` given to ``WeightedOptimWrapper.update_weighted`` (``weighted_train_step``
    does; a model's own ``train_step`` must pass ``loss_fn=lambda: self._run_forward(data, mode='loss')``).
    ``post_step='next_batch'`` uses the next iteration's losses (another batch) instead: no extra forward, but
    batch-to-batch noise enters ``delta``: a deviation from the paper, opt-in only. In both modes a
    training-mode forward updates BatchNorm running statistics once more per step (same_batch).

    Args:
        lr (float): step size of ``xi`` (paper: 0.025).
        gamma (float): weight decay of ``xi`` (paper: 0.001).
        optimizer (str): ``'adam'`` (the authors' released code: Adam with ``weight_decay=gamma``) or
            ``'sgd'`` (Algorithm 1 of the paper, a plain step).
        min_losses (float): ``L*``, a lower bound of every loss (0 for non-negative losses).
        post_step (str): ``'same_batch'`` or ``'next_batch'`` (see above).
    """

    def __init__(self, lr: float = 0.025, gamma: float = 1e-3, optimizer: str = 'adam',
                 min_losses: float = 0.0, eps: float = 1e-8, post_step: str = 'same_batch',
                 betas: Tuple[float, float] = (0.9, 0.999), adam_eps: float = 1e-8, balance: str = 'tasks',
                 objectives: Optional[Sequence[str]] = None) -> None:
        if optimizer not in ('adam', 'sgd'):
            raise ValueError(f"FAMO optimizer must be 'adam' or 'sgd', got {optimizer!r}")
        if post_step not in ('same_batch', 'next_batch'):
            raise ValueError(f"FAMO post_step must be 'same_batch' or 'next_batch', got {post_step!r}")
        self.lr, self.gamma, self.optimizer = float(lr), float(gamma), optimizer
        self.min_losses, self.eps, self.post_step = float(min_losses), float(eps), post_step
        self.betas, self.adam_eps = tuple(float(b) for b in betas), float(adam_eps)
        self.needs_post_step_losses = post_step == 'same_batch'
        super().__init__(balance=balance, objectives=objectives)

    def init_state(self, num: int) -> None:
        dev = self._device
        self.register_buffer('logits', torch.zeros(num, device=dev))
        self.register_buffer('prev_losses', torch.ones(num, device=dev))
        self.register_buffer('pending', torch.zeros((), dtype=torch.bool, device=dev))
        self.register_buffer('exp_avg', torch.zeros(num, device=dev))
        self.register_buffer('exp_avg_sq', torch.zeros(num, device=dev))
        self.register_buffer('num_updates', torch.zeros((), dtype=torch.long, device=dev))

    def _gap(self, losses: Tensor) -> Tensor:
        return (losses - self.min_losses).clamp_min(0) + self.eps

    def compute_weights(self, losses: Tensor, iteration: int) -> Tensor:
        losses = losses.detach().to(self.logits)
        if self.post_step == 'next_batch' and bool(self.pending):
            self.update_logits(self.prev_losses, losses)
            self.pending.fill_(False)
        self.prev_losses.copy_(losses)
        z = torch.softmax(self.logits, 0)
        d = self._gap(losses)
        c = 1.0 / (z / d).sum()
        return c * z / d

    def after_step(self, losses: Optional[Tensor]) -> None:
        if self.post_step == 'same_batch':
            if losses is None:
                raise RuntimeError('FAMO(post_step="same_batch") needs the losses after the step')
            self.update_logits(self.prev_losses, losses.detach().to(self.logits))
        else:
            self.pending.fill_(True)

    @torch.no_grad()
    def update_logits(self, before: Tensor, after: Tensor) -> None:
        """One step of ``xi`` from the losses before and after a model update."""
        drop = torch.log(self._gap(before)) - torch.log(self._gap(after))
        z = torch.softmax(self.logits, 0)
        grad = z * (drop - (z * drop).sum())          # J_softmax(xi)^T drop
        grad = grad + self.gamma * self.logits
        if self.optimizer == 'sgd':
            self.logits.sub_(self.lr * grad)
            return
        self.num_updates += 1
        b1, b2 = self.betas
        t = int(self.num_updates)
        self.exp_avg.mul_(b1).add_((1 - b1) * grad)
        self.exp_avg_sq.mul_(b2).add_((1 - b2) * grad * grad)
        denom = (self.exp_avg_sq / (1 - b2**t)).sqrt() + self.adam_eps
        self.logits.sub_(self.lr * (self.exp_avg / (1 - b1**t)) / denom)
