"""Dynamic Weight Average (Liu, Johns & Davison, CVPR 2019), iteration-based."""
from typing import Optional, Sequence

import torch
from torch import Tensor

from jdbench.registry import WEIGHTINGS
from .base import BaseLossWeighting


@WEIGHTINGS.register_module()
class DWA(BaseLossWeighting):
    """Dynamic Weight Average: Liu et al., "End-to-End Multi-Task Learning with Attention", CVPR 2019.

    ``w_k = K exp(r_k / T) / sum_i exp(r_i / T)`` with ``r_k = L_k(t-1) / L_k(t-2)``, the rate at which
    objective ``k``'s loss is falling. The paper's ``L(t)`` is the mean loss of epoch ``t``; jdbench trains by
    iterations, so ``L(t-1)`` is the mean of the last ``window`` per-iteration losses and ``L(t-2)`` the mean
    of the ``window`` before them (a moving window, kept in the ``history`` buffer, so it is saved and
    resumed). Until ``2 * window`` losses are recorded the weights are 1 (the paper uses 1 for the first two
    epochs). The weights are recomputed every ``interval`` iterations and held in between;
    ``window = interval =`` the number of iterations per epoch gives the paper's epoch-based rule exactly.

    Args:
        temperature (float): ``T`` (the paper uses 2).
        window (int): iterations averaged into one "epoch" loss.
        interval (int): iterations between weight updates.
    """

    def __init__(self, temperature: float = 2.0, window: int = 100, interval: int = 1, balance: str = 'tasks',
                 objectives: Optional[Sequence[str]] = None) -> None:
        if window < 1 or interval < 1 or temperature <= 0:
            raise ValueError('DWA needs window >= 1, interval >= 1 and temperature > 0')
        self.temperature = float(temperature)
        self.window = int(window)
        self.interval = int(interval)
        super().__init__(balance=balance, objectives=objectives)

    def init_state(self, num: int) -> None:
        self.register_buffer('history', torch.zeros(2 * self.window, num, device=self._device))
        self.register_buffer('num_recorded', torch.zeros((), dtype=torch.long, device=self._device))
        self.register_buffer('current', torch.ones(num, device=self._device))

    def compute_weights(self, losses: Tensor, iteration: int) -> Tensor:
        if int(self.num_recorded) % self.interval == 0:
            if int(self.num_recorded) >= 2 * self.window:
                older = self.history[:self.window].mean(0)
                recent = self.history[self.window:].mean(0)
                rate = recent / older.clamp_min(1e-12)
                self.current.copy_(len(self.objectives) * torch.softmax(rate / self.temperature, dim=0))
            else:
                self.current.fill_(1.0)
        w = self.current.clone().to(losses)
        self.history.copy_(torch.cat([self.history[1:], losses.detach().reshape(1, -1).to(self.history)]))
        self.num_recorded += 1
        return w
