"""Base classes of the weighting strategies.

A strategy is an ``nn.Module`` registered in :data:`jdbench.registry.WEIGHTINGS` and held by the model as
``model.weighting``: its parameters and buffers are part of the model's ``state_dict``, so checkpoints carry
them and a resumed run continues with the same state. The names of the objectives it balances are saved beside
them (buffer ``objective_names``: the UTF-8 bytes of the newline-joined names, so that every state-dict value
stays a tensor), and a strategy that was not told its objectives learns them from the checkpoint it loads.
Objectives are matched by name: a checkpoint that lists the same objectives in another order loads, and the
strategy takes the checkpoint's order. :class:`jdbench.engine.optimizers.WeightedOptimWrapper` drives it; see
``docs/weighting.md``.

- :class:`BaseLossWeighting`: returns one weight per objective; the update back-propagates ``sum_k w_k L_k``.
- :class:`BaseGradWeighting`: receives the per-objective gradients over the shared parameters (or over the
  shared representation) and returns the shared gradient to apply, plus the weights of the objectives on the
  non-shared parameters.
"""
from abc import ABCMeta, abstractmethod
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

BALANCES = ('tasks', 'distill', 'all')


class BaseWeighting(nn.Module, metaclass=ABCMeta):
    """Common part of every strategy: objective names, running iteration, logged weights.

    Args:
        balance (str): which of the model's objectives (``model.objectives()``) are balanced: ``'tasks'``
            (kind ``'task'``: one per task, the ground-truth terms ``<task>.*``), ``'distill'`` (kind
            ``'distill'``: one per teacher, ``kd.<teacher>.*``) or ``'all'``. Terms outside the balanced
            objectives are added unweighted.
        objectives (list[str], optional): the objective names, in order. Normally filled by
            :func:`~jdbench.weighting.build_weighting` from the model's objectives; strategies with
            learnable parameters need them at construction so that the optimizer sees the parameters.

    Attributes:
        last_weights (dict[str, float]): the weights of the last update, for logging.
        iteration (Tensor): buffer, number of optimizer steps done (saved in checkpoints); the micro-batches
            of one accumulation window share it, so e.g. RLW draws one set of weights per step.
    """

    #: the strategy combines per-objective gradients (:class:`BaseGradWeighting`)
    is_grad_based: bool = False
    #: the update must give :meth:`after_step` the losses re-evaluated after the optimizer step
    needs_post_step_losses: bool = False
    #: buffers whose shape is only known at run time; resized when a state dict is loaded
    _lazy_buffers: Tuple[str, ...] = ()

    def __init__(self, balance: str = 'tasks', objectives: Optional[Sequence[str]] = None) -> None:
        super().__init__()
        if balance not in BALANCES:
            raise ValueError(f'balance must be one of {BALANCES}, got {balance!r}')
        self.balance = balance
        self.objectives: List[str] = []
        self.last_weights: Dict[str, float] = {}
        self.register_buffer('iteration', torch.zeros((), dtype=torch.long))
        self.register_buffer('objective_names', torch.zeros(0, dtype=torch.uint8))
        if objectives:
            self.setup(objectives)

    # ----------------------------------------------------------------- objectives and state
    @property
    def num_objectives(self) -> int:
        return len(self.objectives)

    @property
    def has_params(self) -> bool:
        """Whether the strategy has learnable parameters (trained by the model's optimizer)."""
        return any(True for _ in self.parameters())

    def setup(self, objectives: Sequence[str]) -> None:
        """Fix the objective names and create the per-objective parameters and buffers (idempotent: the
        same names in another order keep the current order)."""
        objectives = [str(o) for o in objectives]
        if not objectives or len(set(objectives)) != len(objectives):
            raise ValueError(f'{type(self).__name__}: objectives must be distinct names, got {objectives}')
        if self.objectives:
            if set(self.objectives) != set(objectives):
                raise ValueError(f'{type(self).__name__} was set up for objectives {self.objectives}, '
                                 f'now asked for {objectives}')
            return
        self.objectives = objectives
        self.objective_names = self._encode(objectives).to(self._device)
        self.init_state(len(objectives))

    def init_state(self, num: int) -> None:
        """Create the strategy's parameters and buffers for ``num`` objectives (override)."""

    @property
    def _device(self) -> torch.device:
        return self.iteration.device

    def after_step(self, losses: Optional[Tensor]) -> None:
        """Called after each optimizer step; ``losses`` (K,) are the objective losses re-evaluated after the
        step when :attr:`needs_post_step_losses` is set, else ``None``."""

    def logged_state(self) -> Dict[str, Tensor]:
        """Counters the optimizer wrapper logs after each update as ``w.<name>`` (none by default)."""
        return {}

    @staticmethod
    def _encode(names: Sequence[str]) -> Tensor:
        return torch.tensor(list('\n'.join(names).encode('utf-8')), dtype=torch.uint8)

    @staticmethod
    def _decode(encoded: Tensor) -> List[str]:
        text = bytes(encoded.detach().cpu().to(torch.uint8).tolist()).decode('utf-8')
        return text.split('\n') if text else []

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        # A strategy without objectives learns them from the checkpoint before its state is filled. Objectives
        # are matched by name: the same names in another order (e.g. a dumped config that lists the heads in
        # another order) make the strategy adopt the checkpoint's order, so every per-objective value (and
        # the optimizer's state of a learnable one) stays with its objective.
        names_key = prefix + 'objective_names'
        saved = self._decode(state_dict[names_key]) if names_key in state_dict else []
        if saved and not self.objectives:
            self.setup(saved)
        elif saved and set(saved) == set(self.objectives) and len(saved) == len(self.objectives):
            self.objectives = saved
            self.last_weights = {o: self.last_weights[o] for o in saved if o in self.last_weights}
        elif saved and saved != self.objectives:
            error_msgs.append(f'{type(self).__name__}: the checkpoint balances objectives {saved}, '
                              f'this model {self.objectives}; load it into a model (config) with the same '
                              'objectives (heads, teachers and weighting balance)')
            return
        for name in self._lazy_buffers + ('objective_names', ):
            key = prefix + name
            buf = self._buffers.get(name)
            if key in state_dict and buf is not None and buf.shape != state_dict[key].shape:
                self._buffers[name] = torch.zeros_like(state_dict[key], device=buf.device, dtype=buf.dtype)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    # ----------------------------------------------------------------- helpers
    def _record(self, weights: Tensor) -> None:
        self.last_weights = dict(zip(self.objectives, weights.detach().double().cpu().tolist()))

    def _stack(self, losses: Dict[str, Tensor]) -> Tensor:
        missing = [o for o in self.objectives if o not in losses]
        if missing:
            raise KeyError(f'{type(self).__name__}: no loss for objectives {missing}; got {list(losses)}')
        return torch.stack([losses[o].detach().float().reshape(()) for o in self.objectives])

    def _generator(self, seed: int, iteration: int) -> torch.Generator:
        """A CPU generator that depends only on (seed, iteration): identical on every rank and on resume."""
        gen = torch.Generator()
        gen.manual_seed((int(seed) * 1000003 + int(iteration)) % (2**63 - 1))
        return gen

    def extra_repr(self) -> str:
        return f'balance={self.balance!r}, objectives={self.objectives}'


class BaseLossWeighting(BaseWeighting):
    """A strategy that weights the objective losses: ``total = sum_k w_k L_k + regularizer + extras``."""

    def weights(self, losses: Dict[str, Tensor], iteration: int) -> Dict[str, Tensor]:
        """Objective name -> weight (a tensor; it may carry a graph to the strategy's own parameters, never to
        the losses: ``losses`` are detached values)."""
        w = self.compute_weights(self._stack(losses), int(iteration))
        self._record(w)
        return dict(zip(self.objectives, w.unbind(0)))

    @abstractmethod
    def compute_weights(self, losses: Tensor, iteration: int) -> Tensor:
        """(K,) detached loss values -> (K,) weights."""

    def regularizer(self) -> Optional[Tensor]:
        """A term added to the total loss (e.g. UW's ``sum_k s_k``); ``None`` if the method has none."""
        return None


class BaseGradWeighting(BaseWeighting):
    """A strategy that combines per-objective gradients over the shared parameters.

    Most methods return a combination ``d = sum_k c_k g_k`` whose coefficients depend only on the Gram matrix
    ``G G^T`` (and the loss values): they implement :meth:`coefficients`, which also makes them usable on the
    shared representation (``rep_grad=True``, when :attr:`supports_rep_grad`) and under DDP. Methods that need
    the gradient vectors themselves override :meth:`combine`.

    Args:
        rep_grad (bool): take the gradients w.r.t. ``model.shared_rep`` (the shared features) instead of the
            shared parameters, as MGDA-UB does; only for methods where the paper allows it.
        balance, objectives: see :class:`BaseWeighting`.
    """

    is_grad_based = True
    #: whether ``rep_grad=True`` is a method the paper defines
    supports_rep_grad: bool = False

    def __init__(self, rep_grad: bool = False, balance: str = 'tasks',
                 objectives: Optional[Sequence[str]] = None) -> None:
        if rep_grad and not self.supports_rep_grad:
            raise ValueError(f'{type(self).__name__} is defined on the gradients of the shared parameters; '
                             'rep_grad=True is not supported (see docs/weighting.md)')
        self.rep_grad = bool(rep_grad)
        super().__init__(balance=balance, objectives=objectives)

    def transform_losses(self, losses: List[Tensor]) -> List[Tensor]:
        """Map the objective losses before differentiation (e.g. IMTL-L's scaling); identity by default."""
        return losses

    def combine(self, grads: Tensor, losses: Tensor, iteration: int) -> Tuple[Tensor, Tensor]:
        """(K, D) per-objective gradients and (K,) loss values -> the (D,) shared gradient and the (K,)
        weights of the objectives on the non-shared parameters."""
        gram = (grads @ grads.t()).double().cpu()     # K x K: solved on the CPU in float64
        coef, head = self.coefficients(gram, losses.detach().double().cpu(), iteration)
        return coef.to(grads) @ grads, head

    def coefficients(self, gram: Tensor, losses: Tensor, iteration: int) -> Tuple[Tensor, Tensor]:
        """(K, K) Gram matrix and (K,) losses (float64, CPU) -> (K,) coefficients ``c`` of
        ``d = sum_k c_k g_k`` and (K,) head weights. Records ``c`` as :attr:`last_weights`."""
        raise NotImplementedError(f'{type(self).__name__} does not work on the Gram matrix alone')

    def extra_repr(self) -> str:
        return super().extra_repr() + f', rep_grad={self.rep_grad}'
