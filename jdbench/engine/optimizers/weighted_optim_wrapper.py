"""``WeightedOptimWrapper``: the optimizer wrapper that applies a model's weighting strategy.

Shaped like mmengine's ``AmpOptimWrapper``: a registered ``OptimWrapper`` subclass that owns the update.
:meth:`WeightedOptimWrapper.update_weighted` takes the model's loss dict, groups the terms into the objectives
the model declares (``model.objectives()``), applies ``model.weighting`` and steps when the wrapper says so.
It owns gradient accumulation (its ``_inner_count``), AMP loss scaling (:class:`AmpWeightedOptimWrapper`),
the averaging over DDP ranks and the per-objective gradient accumulator. :func:`weighted_train_step` is the
train step of every jdbench model, plain or wrapped in ``JointDDP``. See ``docs/weighting.md``.
"""
from collections import OrderedDict
from contextlib import nullcontext
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.distributed as torch_dist
import torch.nn as nn
from mmengine.model import BaseModel, MMDistributedDataParallel, is_model_wrapper
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from torch import Tensor

from jdbench.models.objectives import Objective, objective_of
from jdbench.registry import OPTIM_WRAPPERS
from jdbench.weighting.base import BaseWeighting
from jdbench.weighting.builder import objective_names

LossDict = Dict[str, Union[Tensor, List[Tensor]]]


# ------------------------------------------------------------------------------------------------ collectives
def _world_size() -> int:
    if torch_dist.is_available() and torch_dist.is_initialized():
        return torch_dist.get_world_size()
    return 1


def _all_reduce_sum_(tensor: Tensor) -> Tensor:
    if _world_size() > 1:
        torch_dist.all_reduce(tensor, op=torch_dist.ReduceOp.SUM)
    return tensor


def _all_reduce_mean_(tensor: Tensor) -> Tensor:
    world = _world_size()
    if world > 1:
        torch_dist.all_reduce(tensor, op=torch_dist.ReduceOp.SUM)
        tensor.div_(world)
    return tensor


def _sync_param_grads_(params: Sequence[nn.Parameter]) -> None:
    """All-reduce (mean) the ``.grad`` of ``params``; a gradient missing on a rank counts as zero there, and
    parameters without a gradient on every rank keep ``None``."""
    if _world_size() == 1 or not params:
        return
    device = params[0].device
    has = torch.tensor([p.grad is not None for p in params], dtype=torch.float32, device=device)
    _all_reduce_sum_(has)
    active = [p for p, h in zip(params, has.tolist()) if h > 0]
    if not active:
        return
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).detach().float().reshape(-1)
                      for p in active])
    _all_reduce_mean_(flat)
    offset = 0
    for p in active:
        n = p.numel()
        p.grad = flat[offset:offset + n].view_as(p).to(p.dtype).clone()
        offset += n


def _ddp_ignored_params(module: nn.Module) -> List[nn.Parameter]:
    """The trainable parameters ``JointDDP`` keeps out of DDP (the strategy's own)."""
    names = set(getattr(module, '_ddp_params_and_buffers_to_ignore', ()) or ())
    return [p for n, p in module.named_parameters() if n in names and p.requires_grad] if names else []


def _add_grad_(param: nn.Parameter, grad: Tensor) -> None:
    grad = grad.view_as(param).to(param.dtype)
    if param.grad is None:
        param.grad = grad.clone()
    else:
        param.grad.add_(grad)


# ------------------------------------------------------------------------------------------------ state
class _GradAccumulator:
    """Per-objective gradients summed over the micro-batches of one accumulation window (parameter mode)."""

    def __init__(self, num: int, numel: int, num_params: int, device: torch.device) -> None:
        self.grads = torch.zeros(num + 1, numel, device=device)   # rows: objectives, then the extras
        self.losses = torch.zeros(num, device=device)
        self.touched = torch.zeros(num_params, dtype=torch.bool)


class _Update(NamedTuple):
    """What one weighted update works on."""
    module: nn.Module                      # the model, unwrapped
    strategy: BaseWeighting
    losses: 'OrderedDict[str, Tensor]'     # objective -> sum of its loss terms (with graph), strategy order
    values: Tensor                         # (K,) detached float32 objective losses
    extras: Optional[Tensor]               # sum of the loss terms of no balanced objective, or None
    sync: bool                             # average the per-objective gradients over the DDP ranks


class _Grads(NamedTuple):
    """What a gradient strategy's pass differentiates, and the factors to undo afterwards."""
    scaled: List[Tensor]                   # objective losses x 1/accumulative_counts (x AMP scale)
    scaled_extras: Optional[Tensor]        # the extras, scaled alike; None without a graph
    shared: List[nn.Parameter]             # parameters of model.shared_modules()
    others: List[nn.Parameter]             # this optimizer's other trainable parameters
    amp: float                             # the AMP loss scale (1.0 without AMP)
    inv_accum: float                       # 1/accumulative_counts (scale_loss's factor)
    world: int                             # ranks the per-objective gradients are averaged over


def group_losses(terms: 'OrderedDict[str, Tensor]', names: Sequence[str], declared: Dict[str, Objective]
                 ) -> Tuple['OrderedDict[str, Tensor]', Optional[Tensor]]:
    """Loss terms -> ({objective: sum of its terms} in ``names`` order, sum of the other terms or None).

    A key belongs to the balanced objective with the longest declared prefix it starts with. Raises
    ``KeyError`` naming a balanced objective without any loss term.
    """
    balanced = {n: declared[n] for n in names}
    grouped: Dict[str, List[Tensor]] = {n: [] for n in names}
    extras: List[Tensor] = []
    for key, value in terms.items():
        obj = objective_of(key, balanced)
        (grouped[obj] if obj is not None else extras).append(value)
    missing = [o for o, v in grouped.items() if not v]
    if missing:
        expected = [balanced[o].prefix + 'loss_*' for o in missing]
        plural = 's' if len(missing) > 1 else ''
        raise KeyError(f'no loss term for objective{plural} {missing}: expected keys {expected}; loss keys '
                       f'present: {list(terms)}')
    obj_losses = OrderedDict((o, sum(v[1:], v[0])) for o, v in grouped.items())
    return obj_losses, (sum(extras[1:], extras[0]) if extras else None)


# ------------------------------------------------------------------------------------------------ wrappers
@OPTIM_WRAPPERS.register_module()
class WeightedOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that balances a model's objectives with its weighting strategy (``model.weighting``).

    Used as ``optim_wrapper=dict(type='WeightedOptimWrapper', optimizer=..., clip_grad=...)`` by every model
    that holds a strategy; its ``update_params`` is the plain one, so models without a strategy train as
    with ``OptimWrapper``. Accumulation (``accumulative_counts``) and clipping (``clip_grad``) are the
    ``OptimWrapper`` arguments; :class:`AmpWeightedOptimWrapper` adds AMP.

    Loss strategies back-propagate ``sum_k w_k L_k + regularizer + extras`` through :meth:`update_params`.
    Gradient strategies take one gradient per objective (over the parameters of ``model.shared_modules()``
    and the other trainable parameters of this wrapper's optimizer, or over ``model.shared_rep`` with
    ``rep_grad=True``), let the strategy combine them and write the result into ``.grad`` before the step.
    """

    _grad_acc: Optional[_GradAccumulator] = None

    # ----------------------------------------------------------------- entry point
    def update_weighted(self, model: nn.Module, losses: LossDict,
                        loss_fn: Optional[Callable[[], LossDict]] = None) -> Dict[str, Tensor]:
        """One update of ``model`` (which holds ``weighting``) from its loss dict.

        Args:
            model (nn.Module): the model, or ``JointDDP`` around it (then gradient strategies average the
                per-objective gradients over the ranks). It provides ``weighting``, ``objectives()`` and, for
                gradient strategies, ``shared_modules()`` (``shared_rep`` with ``rep_grad=True``).
            losses (dict): ``'<prefix><term>'`` -> tensor (or list of tensors), reduced by mmengine's
                ``parse_losses``. Keys containing ``'loss'`` are losses: the terms of the balanced objectives
                are weighted, the others are added unweighted.
            loss_fn (callable, optional): recomputes the loss dict on the same batch (no grad is taken);
                called after an optimizer step when the strategy needs the post-step losses (FAMO).

        Returns:
            dict: log vars: ``loss`` (the optimised total; for gradient strategies the plain sum), every entry
            of ``losses`` (reduced to a scalar) and ``w.<objective>``.
        """
        module = model.module if is_model_wrapper(model) else model
        strategy, declared = self._setup(module)
        iteration = self._inner_count + 1   # the runner's iteration (it initialises the count)
        terms = self._parse(module, losses)
        loss_terms = OrderedDict((k, v) for k, v in terms.items() if 'loss' in k)
        self._check_finite(loss_terms, iteration)
        obj_losses, extras = group_losses(loss_terms, strategy.objectives, declared)
        values = torch.stack([v.detach().float().reshape(()) for v in obj_losses.values()])
        if strategy.is_grad_based:
            update = _Update(module, strategy, obj_losses, values, extras, sync=model is not module)
            total, stepped = self._grad_update(update)
        else:
            _all_reduce_mean_(values)      # every rank's strategy sees the full-batch losses
            update = _Update(module, strategy, obj_losses, values, extras, sync=False)
            total, stepped = self._loss_update(update)
        if stepped:
            strategy.after_step(self._post_step_losses(update, declared, loss_fn, iteration))
            strategy.iteration += 1

        log_vars: 'OrderedDict[str, Tensor]' = OrderedDict(loss=total.detach())
        for key, value in terms.items():
            log_vars[key] = value.detach()
        for name in strategy.objectives:
            if name in strategy.last_weights:
                log_vars[f'w.{name}'] = torch.tensor(strategy.last_weights[name])
        for name, value in strategy.logged_state().items():   # e.g. Nash-MTL's solver fallbacks
            log_vars[f'w.{name}'] = value
        return log_vars

    # ----------------------------------------------------------------- set-up and checks
    @staticmethod
    def _setup(module: nn.Module) -> Tuple[BaseWeighting, Dict[str, Objective]]:
        """The strategy (set up now if it was built without objectives) and the declared objectives."""
        strategy = getattr(module, 'weighting', None)
        if not isinstance(strategy, BaseWeighting):
            raise AttributeError(f'{type(module).__name__}.weighting is not a jdbench weighting strategy '
                                 '(build it with jdbench.weighting.build_weighting)')
        if not callable(getattr(module, 'objectives', None)):
            raise AttributeError(f'{type(module).__name__} must declare objectives() (a list of '
                                 'jdbench.models.objectives.Objective) to be trained with a weighting '
                                 'strategy')
        declared = OrderedDict((o.name, o) for o in module.objectives())
        if not strategy.objectives:
            names = objective_names(strategy.balance, list(declared.values()))
            if not names:
                raise AttributeError(f'{type(module).__name__} declares no objectives for a strategy with '
                                     f'balance={strategy.balance!r}; its objectives(): {list(declared)}')
            strategy.setup(names)
            if strategy.has_params:
                raise RuntimeError(
                    f'{type(strategy).__name__} has learnable parameters, created only now (first update), '
                    'after the optimizer was built, so they would never be trained. Build the strategy with '
                    "its objectives in the model's __init__: "
                    'build_weighting(cfg, objectives=self.objectives())')
        unknown = [o for o in strategy.objectives if o not in declared]
        if unknown:
            raise KeyError(f'{type(strategy).__name__} balances objectives {unknown} that '
                           f'{type(module).__name__}.objectives() does not declare ({list(declared)})')
        return strategy, declared

    @staticmethod
    def _parse(module: nn.Module, losses: LossDict) -> 'OrderedDict[str, Tensor]':
        """Every entry reduced to a scalar by mmengine's ``parse_losses`` (without its total)."""
        if 'loss' in losses:
            raise KeyError(f"{type(module).__name__}: a term named 'loss' collides with the total that "
                           "parse_losses logs as 'loss'; name it '<prefix>loss_<term>'")
        _, parsed = BaseModel.parse_losses(module, losses)
        return OrderedDict((k, v) for k, v in parsed.items() if k != 'loss')

    @staticmethod
    def _check_finite(terms: 'OrderedDict[str, Tensor]', iteration: int, where: str = '') -> None:
        if not terms:
            return
        values = torch.stack([v.detach().float().reshape(()) for v in terms.values()])
        if bool(torch.isfinite(values).all()):
            return
        bad = [f'{k}={v:.4g}' for k, v in zip(terms, values.tolist()) if not torch.isfinite(torch.tensor(v))]
        raise RuntimeError(
            f'non-finite loss term{"s" if len(bad) > 1 else ""} {", ".join(bad)}{where} at iteration '
            f'{iteration}. Training stopped before this step changed any weight; the checkpoints already '
            "saved are kept. Lower the learning rate or the term's loss_weight (or check the data), then "
            'continue from the last checkpoint with --resume.')

    def _active_scaler(self):
        """The AMP loss scaler when one is enabled (:class:`AmpWeightedOptimWrapper`), else ``None``."""
        scaler = getattr(self, 'loss_scaler', None)
        return scaler if scaler is not None and scaler.is_enabled() else None

    def _split_params(self, module: nn.Module, strategy: BaseWeighting
                      ) -> Tuple[List[nn.Parameter], List[nn.Parameter]]:
        """(shared parameters, this optimizer's other trainable parameters), both in the model's order."""
        fn = getattr(module, 'shared_modules', None)
        mods = fn() if callable(fn) else None
        if not mods:
            raise RuntimeError(f'{type(strategy).__name__} is a gradient strategy: {type(module).__name__} '
                               'must define shared_modules() returning the shared modules (backbone, neck); '
                               'it is missing or empty')
        shared, seen = [], set()
        for mod in mods:
            for p in mod.parameters():
                if p.requires_grad and id(p) not in seen:
                    seen.add(id(p))
                    shared.append(p)
        if not shared:
            raise RuntimeError(f'{type(strategy).__name__}: the modules of '
                               f'{type(module).__name__}.shared_modules() have no trainable parameters')
        own = {id(p) for group in self.optimizer.param_groups for p in group['params']}
        others = [p for p in module.parameters() if p.requires_grad and id(p) not in seen and id(p) in own]
        return shared, others

    @staticmethod
    def _shared_rep(module: nn.Module, strategy: BaseWeighting) -> List[Tensor]:
        rep = getattr(module, 'shared_rep', None)
        if isinstance(rep, Tensor):
            rep = (rep, )
        reps = [r for r in (rep or ()) if isinstance(r, Tensor) and r.requires_grad]
        if not reps:
            raise RuntimeError(f'{type(strategy).__name__}(rep_grad=True) needs '
                               f'{type(module).__name__}.shared_rep: the shared features of the last loss '
                               'forward, still attached to the graph')
        return reps

    # ----------------------------------------------------------------- loss strategies
    def _loss_update(self, u: _Update) -> Tuple[Tensor, bool]:
        """``sum_k w_k L_k + regularizer + extras`` through :meth:`update_params` (accumulation and AMP as
        usual; DDP averages the model's gradients). Under ``JointDDP`` the strategy's own parameters are kept
        out of DDP: their gradients are averaged here before the step."""
        strategy = u.strategy
        weights = strategy.weights(OrderedDict(zip(u.losses, u.values.unbind(0))), int(strategy.iteration))
        total = sum(weights[o] * loss for o, loss in u.losses.items())
        reg = strategy.regularizer()
        if reg is not None:
            total = total + reg
        if u.extras is not None:
            total = total + u.extras
        ignored = _ddp_ignored_params(u.module) if _world_size() > 1 else []
        if not ignored:
            self.update_params(total)
            return total, self.should_update()
        self.backward(self.scale_loss(total))
        stepped = self.should_update()
        if stepped:
            _sync_param_grads_(ignored)
            self.step()
            self.zero_grad()
        return total, stepped

    # ----------------------------------------------------------------- gradient strategies
    def _grad_update(self, u: _Update) -> Tuple[Tensor, bool]:
        """Per-objective gradients, combined by the strategy.

        - Accumulation: each loss is scaled by ``scale_loss``'s ``1/accumulative_counts``; the per-objective
          gradients (and loss values) are summed over the micro-batches of a window and combined once, at
          the step. The wrapper's ``_inner_count`` is bumped once per micro-batch, as ``backward`` does.
        - AMP: the losses are scaled by the loss scaler; the gradients are unscaled before combining (the
          strategy sees true gradients) and the result is re-scaled, so the scaler's ``step`` unscales it,
          detects an overflow and skips that step.
        - DDP (``u.sync``): the per-objective gradients are averaged over the ranks before combining (the
          forward ran under ``no_sync``), so every rank applies the combined gradient of the full batch.
        """
        shared, others = self._split_params(u.module, u.strategy)
        inv_accum = float(self.scale_loss(torch.ones(())))
        scaler = self._active_scaler()

        def scale(loss: Tensor) -> Tensor:
            loss = loss * inv_accum
            return scaler.scale(loss) if scaler is not None else loss

        transformed = u.strategy.transform_losses(list(u.losses.values()))
        scaled = [scale(loss) for loss in transformed]
        scaled_extras = scale(u.extras) if u.extras is not None and u.extras.requires_grad else None
        amp = float(scaler.get_scale()) if scaler is not None else 1.0
        world = _world_size() if u.sync else 1
        log_total = sum(v.detach() for v in u.losses.values())
        if u.extras is not None:
            log_total = log_total + u.extras.detach()
        gp = _Grads(scaled, scaled_extras, shared, others, amp, inv_accum, world)
        if u.strategy.rep_grad:
            stepped = self._rep_step(u, gp)
        else:
            stepped = self._param_step(u, gp, check_finite=scaler is None)
        return log_total, stepped

    def _param_step(self, u: _Update, gp: _Grads, check_finite: bool) -> bool:
        """Gradients over the parameters: one (K+1, D) float32 accumulator (objectives, then the extras),
        combined over the shared columns by the strategy; the other columns are weighted by its head
        weights; the extras are added unweighted."""
        names, strategy = list(u.losses), u.strategy
        scaled, scaled_extras, shared, others, amp, inv_accum, world = gp
        params = shared + others
        sizes = [p.numel() for p in params]
        numel = sum(sizes)
        num_shared = sum(sizes[:len(shared)])
        acc = self._grad_acc
        if acc is None or acc.grads.shape != (len(names) + 1, numel):
            acc = self._grad_acc = _GradAccumulator(len(names), numel, len(params), params[0].device)
        outputs = list(enumerate(scaled))
        if scaled_extras is not None:
            outputs.append((len(names), scaled_extras))
        outputs = [(row, loss) for row, loss in outputs if loss.requires_grad]
        for n, (row, loss) in enumerate(outputs):
            # the last backward frees the graph (the model may keep references to it, e.g. shared_rep)
            grads = torch.autograd.grad(loss, params, retain_graph=n < len(outputs) - 1, allow_unused=True)
            offset = 0
            for i, (g, size) in enumerate(zip(grads, sizes)):
                if g is not None:
                    acc.grads[row, offset:offset + size] += g.detach().reshape(-1).float() / amp
                    acc.touched[i] = True
                offset += size
        if check_finite:
            finite = torch.isfinite(acc.grads).all(dim=1).tolist()
            if not all(finite):
                bad = [(names + ['<extra terms>'])[i] for i, f in enumerate(finite) if not f]
                self._grad_acc = None
                raise RuntimeError(f'non-finite gradient of objective(s) {bad} (the losses are finite)')
        acc.losses += u.values * inv_accum
        self._inner_count += 1          # what OptimWrapper.backward does
        if not self.should_update():
            return False

        self._grad_acc = None
        grads, losses, touched = acc.grads, acc.losses, acc.touched
        if world > 1:
            _all_reduce_mean_(grads)
            small = torch.cat([losses, touched.to(losses)])
            _all_reduce_sum_(small)
            losses = small[:len(names)] / world
            touched = small[len(names):].cpu() > 0
        obj_grads = grads[:len(names)]
        it = int(strategy.iteration)
        if bool(torch.isfinite(obj_grads).all()):
            shared_grad, head = strategy.combine(obj_grads[:, :num_shared], losses.detach(), it)
        else:  # AMP overflow: let the loss scaler see it and skip the step
            shared_grad, head = obj_grads[:, :num_shared].sum(0), torch.ones(len(names))
        head_grad = head.to(grads) @ obj_grads[:, num_shared:]
        full = torch.cat([shared_grad.to(grads), head_grad]) + grads[len(names)]
        full.mul_(amp)
        offset = 0
        for p, size, t in zip(params, sizes, touched.tolist()):
            if t:
                _add_grad_(p, full[offset:offset + size])
            offset += size
        self.step()
        self.zero_grad()
        return True

    def _rep_step(self, u: _Update, gp: _Grads) -> bool:
        """Gradients over the shared representation (``rep_grad=True``): the strategy solves on their (K, K)
        Gram matrix (unscaled; under DDP the ranks' Gram matrices and losses are summed, ``/ world**2`` and
        ``/ world``: the full-batch loss is the mean of the ranks' losses); the combination is
        back-propagated into the shared modules and summed into ``.grad`` over the micro-batches; the other
        parameters get their head-weighted gradients; the ``.grad`` are averaged over the ranks before the
        step."""
        names, strategy = list(u.losses), u.strategy
        scaled, scaled_extras, shared, others, amp, inv_accum, world = gp
        reps = self._shared_rep(u.module, strategy)
        inputs = reps + others
        rep_grads: List[List[Tensor]] = []
        other_grads: List[Tuple[Optional[Tensor], ...]] = []
        for loss in scaled:
            if loss.requires_grad:
                grads = torch.autograd.grad(loss, inputs, retain_graph=True, allow_unused=True)
            else:
                grads = (None, ) * len(inputs)
            rep_grads.append([g if g is not None else torch.zeros_like(r)
                              for g, r in zip(grads[:len(reps)], reps)])
            other_grads.append(grads[len(reps):])
        mult = amp * inv_accum
        flat = torch.stack([torch.cat([g.reshape(-1).float() for g in row]) for row in rep_grads])
        gram = (flat @ flat.t()).double() / mult**2
        values = u.values.detach().double()
        if world > 1:
            small = torch.cat([gram.reshape(-1), values]).to(flat.device)
            _all_reduce_sum_(small)
            k = len(names)
            gram = small[:k * k].reshape(k, k) / world**2   # full-batch loss = mean of the ranks' losses
            values = small[k * k:] / world
        gram, values = gram.cpu(), values.cpu()
        it = int(strategy.iteration)
        if bool(torch.isfinite(gram).all()):
            coef, head = strategy.coefficients(gram, values, it)
        else:
            if amp == 1.0:
                raise RuntimeError(f'non-finite representation gradients for objectives {names}')
            coef = head = torch.ones(len(names), dtype=torch.float64)
        del flat
        combined = [sum(float(c) * row[r] for c, row in zip(coef.tolist(), rep_grads))
                    for r in range(len(reps))]
        torch.autograd.backward(reps, grad_tensors=combined, inputs=shared,
                                retain_graph=scaled_extras is not None)
        for i, p in enumerate(others):
            g = [float(h) * row[i] for h, row in zip(head.tolist(), other_grads) if row[i] is not None]
            if g:
                _add_grad_(p, sum(g[1:], g[0]))
        if scaled_extras is not None:
            params = shared + others
            for p, g in zip(params, torch.autograd.grad(scaled_extras, params, allow_unused=True)):
                if g is not None:
                    _add_grad_(p, g)
        self._inner_count += 1          # what OptimWrapper.backward does
        if not self.should_update():
            return False
        if world > 1:
            _sync_param_grads_(shared + others)
        self.step()
        self.zero_grad()
        return True

    # ----------------------------------------------------------------- after the step
    def _post_step_losses(self, u: _Update, declared: Dict[str, Objective],
                          loss_fn: Optional[Callable[[], LossDict]], iteration: int) -> Optional[Tensor]:
        """(K,) objective losses re-evaluated after the step (rank-averaged), when the strategy needs them."""
        if not u.strategy.needs_post_step_losses:
            return None
        if loss_fn is None:
            raise RuntimeError(f'{type(u.strategy).__name__} needs the losses after the optimizer step: pass '
                               'loss_fn=lambda: model._run_forward(data, mode="loss") to update_weighted '
                               '(weighted_train_step does; see docs/weighting.md)')
        with torch.no_grad():
            terms = self._parse(u.module, loss_fn())
        terms = OrderedDict((k, v) for k, v in terms.items() if 'loss' in k)
        self._check_finite(terms, iteration, ' (losses re-evaluated after the step)')
        obj_losses, _ = group_losses(terms, u.strategy.objectives, declared)
        return _all_reduce_mean_(torch.stack([v.detach().float().reshape(()) for v in obj_losses.values()]))


@OPTIM_WRAPPERS.register_module()
class AmpWeightedOptimWrapper(WeightedOptimWrapper, AmpOptimWrapper):
    """:class:`WeightedOptimWrapper` with ``AmpOptimWrapper``'s autocast and loss scaling (CUDA):
    ``optim_wrapper=dict(type='AmpWeightedOptimWrapper', loss_scale='dynamic', optimizer=...)``
    (``tools/train.py --amp`` sets it)."""


# ------------------------------------------------------------------------------------------------ train step
def weighted_train_step(model: nn.Module, data: Union[dict, tuple, list],
                        optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
    """mmengine's ``train_step`` for a model that may hold ``weighting`` (or ``JointDDP`` around one).

    Pre-process, forward in ``loss`` mode under the optim context, then
    :meth:`WeightedOptimWrapper.update_weighted` (with a ``loss_fn`` re-running the same batch for strategies
    that need the post-step losses, e.g. FAMO). Under DDP, a gradient strategy's forward and update run
    inside ``no_sync()``: the wrapper averages the per-objective gradients itself (DDP's all-reduce would
    average only the combined one). A loss strategy's backward goes through DDP as usual. Without a strategy
    this is mmengine's own step.
    """
    module = model.module if is_model_wrapper(model) else model
    weighting = getattr(module, 'weighting', None)
    if weighting is None:
        base = MMDistributedDataParallel if isinstance(model, MMDistributedDataParallel) else BaseModel
        return base.train_step(model, data, optim_wrapper)
    if not isinstance(optim_wrapper, WeightedOptimWrapper):
        raise TypeError(f'{type(module).__name__} balances its objectives with {type(weighting).__name__}: '
                        "it needs optim_wrapper=dict(type='WeightedOptimWrapper', ...) "
                        f'(AmpWeightedOptimWrapper for AMP), got {type(optim_wrapper).__name__}')
    no_sync = model.no_sync() if weighting.is_grad_based and model is not module else nullcontext()
    with no_sync:
        with optim_wrapper.optim_context(model):
            data = module.data_preprocessor(data, True)
            losses = model._run_forward(data, mode='loss')
        loss_fn = None
        if weighting.needs_post_step_losses:

            def loss_fn() -> LossDict:
                with optim_wrapper.optim_context(module):
                    return module._run_forward(data, mode='loss')

        return optim_wrapper.update_weighted(model, losses, loss_fn=loss_fn)
