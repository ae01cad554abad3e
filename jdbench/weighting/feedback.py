"""JointDistill's feedback-based teacher weights (docs/methods.md)."""
from typing import Dict, Optional, Sequence

import torch
from torch import Tensor

from jdbench.registry import WEIGHTINGS
from .base import BaseLossWeighting


@WEIGHTINGS.register_module()
class Feedback(BaseLossWeighting):
    """Feedback-based adaptive weights of JointDistill (arXiv 2505.10057; jdbench's reading, docs/methods.md).

    One weight ``omega_i`` per objective (per teacher with the default ``balance='distill'``), a buffer with
    no gradient, changed only by :meth:`update` (called by the feedback hook with the student's and the
    teachers' scores on the feedback split):

    - ``a_i = r_i^S / r_i^T`` (``mode='gap'``: ``1 / a_i``), ``a_bar = mean_i a_i``,
      ``omega_bar = mean_i omega_i``;
    - ``target_i = omega_bar * a_i * a_bar^(alpha - 1)``;
    - ``omega_i <- omega_i - beta * omega_i * (omega_i - target_i)``;
    - clip to ``[omega_min, omega_max]``, then renormalise so that ``sum_i omega_i = N``.

    :meth:`weights` returns ``omega``. :meth:`update` takes the scores keyed by objective name (the hook maps
    each objective to the task that scores it, ``Objective.score``). Every rank must call it with the same
    scores (mmengine's evaluator broadcasts its metrics), so ``omega`` stays identical across ranks; it is
    saved in checkpoints.

    Args:
        alpha (float): exponent of the mean ratio (1: target proportional to ``a_i``).
        beta (float): step size.
        init_weight (float): ``omega_0``.
        omega_min, omega_max (float): clipping bounds.
        mode (str): ``'ratio'`` (docs/methods.md) or ``'gap'`` (more weight where the student lags).
    """

    def __init__(self, alpha: float = 1.0, beta: float = 0.5, init_weight: float = 1.0,
                 omega_min: float = 0.1, omega_max: float = 10.0, mode: str = 'ratio',
                 balance: str = 'distill', objectives: Optional[Sequence[str]] = None) -> None:
        if mode not in ('ratio', 'gap'):
            raise ValueError(f"Feedback mode must be 'ratio' or 'gap', got {mode!r}")
        if not 0 < omega_min <= omega_max:
            raise ValueError('Feedback needs 0 < omega_min <= omega_max')
        self.alpha, self.beta, self.init_weight = float(alpha), float(beta), float(init_weight)
        self.omega_min, self.omega_max, self.mode = float(omega_min), float(omega_max), mode
        super().__init__(balance=balance, objectives=objectives)

    def init_state(self, num: int) -> None:
        self.register_buffer('omega', torch.full((num, ), self.init_weight, device=self._device))
        self._record(self.omega)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        # checkpoints written before the redesign carry an unread feedback counter
        state_dict.pop(prefix + 'num_feedback', None)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def _scores(self, scores: Dict[str, float], who: str) -> Tensor:
        missing = [o for o in self.objectives if o not in scores]
        if missing:
            raise KeyError(f'Feedback.update: no {who} score for objectives {missing}; got {sorted(scores)} '
                           '(scores are keyed by objective name)')
        return torch.tensor([float(scores[o]) for o in self.objectives], dtype=torch.float64)

    @torch.no_grad()
    def update(self, student_scores: Dict[str, float], teacher_scores: Dict[str, float]) -> Dict[str, float]:
        """One feedback update of ``omega`` from the scores (objective name -> score, higher is better);
        returns the new weights."""
        if not self.objectives:
            raise RuntimeError('Feedback.update before the strategy knows its objectives: build it with '
                               'build_weighting(cfg, objectives=model.objectives())')
        r_s = self._scores(student_scores, 'student')
        r_t = self._scores(teacher_scores, 'teacher')
        if (r_t <= 0).any() or (r_s < 0).any() or not torch.isfinite(r_s).all():
            raise ValueError(f'Feedback.update needs teacher scores > 0 and student scores >= 0, got '
                             f'student {r_s.tolist()}, teacher {r_t.tolist()}')
        a = r_s / r_t
        if self.mode == 'gap':
            a = 1.0 / a.clamp_min(1e-12)
        omega = self.omega.double().cpu()
        target = omega.mean() * a * a.mean()**(self.alpha - 1.0)
        omega = omega - self.beta * omega * (omega - target)
        omega = omega.clamp(self.omega_min, self.omega_max)
        omega = omega * (len(omega) / omega.sum())
        self.omega.copy_(omega.to(self.omega))
        self._record(self.omega)
        return dict(self.last_weights)

    def compute_weights(self, losses: Tensor, iteration: int) -> Tensor:
        return self.omega.clone().to(losses)
