"""Static weightings: equal weights and fixed weights from the config."""
from typing import Dict, Optional, Sequence

import torch
from torch import Tensor

from jdbench.registry import WEIGHTINGS
from .base import BaseLossWeighting


@WEIGHTINGS.register_module()
class EW(BaseLossWeighting):
    """Equal weighting: ``total = sum_k L_k`` (the usual multi-task baseline, e.g. Vandenhende et al. 2021,
    "Multi-Task Learning for Dense Prediction Tasks: A Survey", TPAMI)."""

    def compute_weights(self, losses: Tensor, iteration: int) -> Tensor:
        return torch.ones_like(losses)


@WEIGHTINGS.register_module()
class Fixed(BaseLossWeighting):
    """Fixed (static) weights from the config: ``total = sum_k w_k L_k``.

    Args:
        weights (dict[str, float]): objective name -> weight, e.g. ``dict(seg=1.0, depth=2.0)``
            (with ``balance='distill'``: ``{'kd.seg': 1.0, 'kd.depth': 2.0}``).
        default (float, optional): weight of the objectives not listed; ``None`` makes a missing one an error.
    """

    def __init__(self, weights: Dict[str, float], default: Optional[float] = None, balance: str = 'tasks',
                 objectives: Optional[Sequence[str]] = None) -> None:
        self.fixed = {str(k): float(v) for k, v in weights.items()}
        self.default = default
        super().__init__(balance=balance, objectives=objectives)

    def init_state(self, num: int) -> None:
        missing = [o for o in self.objectives if o not in self.fixed]
        if missing and self.default is None:
            raise KeyError(f'Fixed weighting has no weight for objectives {missing} '
                           f'(given: {sorted(self.fixed)}); add them to `weights` or set `default`')
        unknown = sorted(set(self.fixed) - set(self.objectives))
        if unknown:
            raise KeyError(f'Fixed weighting: weights given for unknown objectives {unknown}; '
                           f'the objectives are {self.objectives}')
        self.register_buffer(
            'fixed_weights',
            torch.tensor([self.fixed.get(o, self.default) for o in self.objectives], device=self._device))

    def compute_weights(self, losses: Tensor, iteration: int) -> Tensor:
        return self.fixed_weights.to(losses)
