"""Random Loss Weighting (Lin et al., TMLR 2022)."""
from typing import Optional, Sequence

import torch
from torch import Tensor

from jdbench.registry import WEIGHTINGS
from .base import BaseLossWeighting


@WEIGHTINGS.register_module()
class RLW(BaseLossWeighting):
    """Random loss weighting: Lin et al., "Reasonable Effectiveness of Random Weighting: A Litmus Test for
    Multi-Task Learning", TMLR 2022 (arXiv 2111.10603).

    Each iteration draws ``lambda ~ p`` and uses ``w = softmax(lambda)`` (weights sum to 1):
    ``distribution='normal'`` (N(0, I), the paper's default), ``'uniform'`` (U(0, 1)), or ``'dirichlet'``
    (Dirichlet(1), already on the simplex, no softmax). The draw depends only on ``(seed, iteration)``, so
    every DDP rank uses the same weights and a resumed run continues the same sequence.
    """

    def __init__(self, distribution: str = 'normal', seed: int = 0, balance: str = 'tasks',
                 objectives: Optional[Sequence[str]] = None) -> None:
        if distribution not in ('normal', 'uniform', 'dirichlet'):
            raise ValueError("RLW distribution must be 'normal', 'uniform' or 'dirichlet', "
                             f'got {distribution!r}')
        self.distribution = distribution
        self.seed = int(seed)
        super().__init__(balance=balance, objectives=objectives)

    def compute_weights(self, losses: Tensor, iteration: int) -> Tensor:
        gen = self._generator(self.seed, iteration)
        k = losses.numel()
        if self.distribution == 'normal':
            w = torch.softmax(torch.randn(k, generator=gen, dtype=torch.float64), 0)
        elif self.distribution == 'uniform':
            w = torch.softmax(torch.rand(k, generator=gen, dtype=torch.float64), 0)
        else:
            g = -torch.log(torch.rand(k, generator=gen, dtype=torch.float64).clamp_min(1e-300))  # Gamma(1)
            w = g / g.sum()
        return w.to(losses)
