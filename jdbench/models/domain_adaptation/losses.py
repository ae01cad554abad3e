"""The distillation terms of Domain Adaptive KD: KL (true, or the official code's ``KLDivLoss`` call), MSE on
the intermediate maps, cross-entropy to the teacher's argmax pseudo-labels.

Every loss takes ``(student_logits, teacher_logits)`` of the same shape (B, C, H, W), raw logits, the teacher's
computed without grad, and returns a scalar.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from jdbench.registry import MODELS

KL_MODES = ('true', 'code', 'code_torch111')
KL_REDUCTIONS = ('mean', 'pixel')
MSE_SPACES = ('log_prob', 'prob', 'logit')


def _check_shapes(student: Tensor, teacher: Tensor, what: str) -> None:
    if student.shape != teacher.shape:
        raise ValueError(f'{what}: student map {tuple(student.shape)} and teacher map {tuple(teacher.shape)} '
                         'differ in shape (resize the teacher first)')


@MODELS.register_module()
class DAKDKLLoss(nn.Module):
    """KL between the teacher's and the student's class distributions, or the official code's KL call.

    With ``log q = log_softmax(z_S / τ)`` and ``log p = log_softmax(z_T / τ)`` per pixel over the C classes:

    - ``'true'`` (default): ``τ² · Σ_c p_c (log p_c − log q_c)``, i.e. KL(p ‖ q), reduced by ``reduction``:
      ``'mean'`` over all B·C·H·W elements (``nn.KLDivLoss``'s default, the reduction of the code's call: the
      per-pixel KL divided by C) or ``'pixel'`` (the per-pixel KL averaged over pixels, as
      :class:`~jdbench.models.TemperatureKLLoss`).
    - ``'code'``: what DAKD's ``nn.KLDivLoss()(log q, log p)`` computed where it was written (PyTorch < 1.11):
      the teacher's *log*-probabilities are taken as probabilities (no ``log_target=True``), and PyTorch then
      gave ``mean(where(t > 0, t · (log t − log q), 0))`` with gradient ``−t/N`` where ``t > 0`` and 0 elsewhere.
      Log-probabilities are never positive, so the term is exactly 0, value and gradient: the code's KL terms
      trained nothing.
    - ``'code_torch111'``: the same call under PyTorch ≥ 1.11 (``xlogy``): its value is NaN (``t · log t`` of
      negative ``t``) but its gradient is ``−t/N`` everywhere, and the NaN never reaches the weights. This mode
      returns ``−mean(t · log q)``, whose gradient is exactly that; its value is not the code's (NaN).

    The code modes take no temperature (τ must be 1) and always reduce by ``'mean'``.

    Args:
        mode (str): ``'true'``, ``'code'`` or ``'code_torch111'``.
        temperature (float): τ (``'true'`` only). Defaults to 1.
        reduction (str): ``'mean'`` (default) or ``'pixel'`` (``'true'`` only).
    """

    def __init__(self, mode: str = 'true', temperature: float = 1.0, reduction: str = 'mean') -> None:
        super().__init__()
        if mode not in KL_MODES:
            raise ValueError(f'KL mode must be one of {KL_MODES}, got {mode!r}')
        if reduction not in KL_REDUCTIONS:
            raise ValueError(f'KL reduction must be one of {KL_REDUCTIONS}, got {reduction!r}')
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        if mode != 'true' and (temperature != 1.0 or reduction != 'mean'):
            raise ValueError(f"KL mode {mode!r} reproduces the official code's nn.KLDivLoss() call, which has no "
                             "temperature and reduces by 'mean': use temperature=1.0 and reduction='mean', or "
                             "mode='true'")
        self.mode, self.temperature, self.reduction = mode, float(temperature), reduction

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        """Logits (B, C, H, W) of both -> scalar."""
        _check_shapes(student, teacher, 'DAKDKLLoss')
        tau = self.temperature
        return self.from_log_probs(F.log_softmax(student.float() / tau, dim=1),
                                   F.log_softmax(teacher.float() / tau, dim=1))

    @property
    def takes_log_probs(self) -> bool:
        """Whether :meth:`from_log_probs` of the plain (τ = 1) log-probabilities gives :meth:`forward`."""
        return self.temperature == 1.0

    def from_log_probs(self, log_q: Tensor, log_p: Tensor, teacher: Optional[Tensor] = None) -> Tensor:
        """The loss from the student's and teacher's log-probabilities at temperature τ (B, C, H, W)."""
        tau = self.temperature
        if self.mode == 'true':
            kl = log_p.exp() * (log_p - log_q)
            return tau**2 * (kl.mean() if self.reduction == 'mean' else kl.sum(dim=1).mean())
        t = log_p  # the code passes the teacher's log-probabilities as the target
        if self.mode == 'code':
            pos = t > 0
            out = torch.where(pos, t * (t.clamp_min(torch.finfo(t.dtype).tiny).log() - log_q),
                              torch.zeros_like(log_q))
            return out.mean()
        return -(t * log_q).mean()

    def extra_repr(self) -> str:
        return f'mode={self.mode!r}, temperature={self.temperature}, reduction={self.reduction!r}'


@MODELS.register_module()
class DAKDMSELoss(nn.Module):
    """Mean squared error between the two maps, over all B·C·H·W elements (``nn.MSELoss``).

    Args:
        space (str): what is compared: ``'log_prob'`` (default: DAKD's code compares its networks'
            LogSoftmax outputs), ``'prob'`` or ``'logit'``.
    """

    def __init__(self, space: str = 'log_prob') -> None:
        super().__init__()
        if space not in MSE_SPACES:
            raise ValueError(f'MSE space must be one of {MSE_SPACES}, got {space!r}')
        self.space = space

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        """Logits (B, C, H, W) of both -> scalar."""
        _check_shapes(student, teacher, 'DAKDMSELoss')
        s, t = student.float(), teacher.float()
        if self.space == 'logit':
            return F.mse_loss(s, t)
        return self.from_log_probs(F.log_softmax(s, dim=1), F.log_softmax(t, dim=1))

    @property
    def takes_log_probs(self) -> bool:
        """Whether :meth:`from_log_probs` gives :meth:`forward` (not for ``space='logit'``)."""
        return self.space != 'logit'

    def from_log_probs(self, log_q: Tensor, log_p: Tensor, teacher: Optional[Tensor] = None) -> Tensor:
        """The loss from the student's and teacher's log-probabilities (B, C, H, W)."""
        if self.space == 'logit':
            raise ValueError("DAKDMSELoss(space='logit') compares logits: call it on the logits")
        if self.space == 'prob':
            return F.mse_loss(log_q.exp(), log_p.exp())
        return F.mse_loss(log_q, log_p)


@MODELS.register_module()
class PseudoLabelCELoss(nn.Module):
    """Cross-entropy of the student to the teacher's argmax class (DAKD's ``loss_target_crossEntropy``):
    ``mean_pixels −log softmax(z_S)[argmax_c z_T]``.

    Args:
        threshold (float, optional): ignore pixels whose teacher confidence ``max_c softmax(z_T)`` is below it
            (not in DAKD). ``None`` (default) keeps every pixel.
    """

    def __init__(self, threshold: Optional[float] = None) -> None:
        super().__init__()
        self.threshold = threshold

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        """Logits (B, C, H, W) of both -> scalar."""
        _check_shapes(student, teacher, 'PseudoLabelCELoss')
        return self.from_log_probs(F.log_softmax(student.float(), dim=1), None, teacher)

    takes_log_probs = True

    def from_log_probs(self, log_q: Tensor, log_p: Optional[Tensor], teacher: Optional[Tensor] = None) -> Tensor:
        """The loss from the student's log-probabilities and the teacher's log-probabilities or logits (the
        argmax is the same; ``max`` gives the first maximal index, as ``argmax``, and is faster on CPU)."""
        ref = teacher if teacher is not None else log_p
        labels = ref.max(dim=1).indices
        if self.threshold is not None:
            conf = (log_p.exp() if log_p is not None else F.softmax(teacher.float(), dim=1)).amax(dim=1)
            labels = labels.masked_fill(conf < self.threshold, -100)
            if not bool((labels >= 0).any()):
                return log_q.sum() * 0.
        return F.nll_loss(log_q, labels, ignore_index=-100)
