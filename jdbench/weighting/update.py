"""``weighted_update``: one training update of a model that holds a weighting strategy.

The model's ``train_step`` runs the forward in ``mode='loss'`` and hands the loss dict to
:func:`weighted_update`, which groups the terms into objectives, applies the strategy, back-propagates through
the ``OptimWrapper`` (gradient accumulation, AMP loss scaling) and steps when the wrapper says so. Under
``JointDDP`` the same function runs on every rank; see ``docs/weighting.md`` for the exact semantics.
"""
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.distributed as torch_dist
import torch.nn as nn
from mmengine.logging import MessageHub
from torch import Tensor

from .base import BaseWeighting
from .builder import objective_names

LossDict = Dict[str, Union[Tensor, List[Tensor]]]


# ------------------------------------------------------------------------------------------------ helpers
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


def parse_terms(losses: LossDict) -> 'OrderedDict[str, Tensor]':
    """Every entry reduced to a scalar, as mmengine's ``BaseModel.parse_losses`` does (mean of a tensor, sum
    of the means of a list of tensors)."""
    parsed: 'OrderedDict[str, Tensor]' = OrderedDict()
    for name, value in losses.items():
        if isinstance(value, Tensor):
            parsed[name] = value.mean()
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Tensor) for v in value):
            parsed[name] = sum(v.mean() for v in value)
        else:
            raise TypeError(f'{name} is not a tensor or a list of tensors: {type(value)}')
    return parsed


def _check_finite(terms: 'OrderedDict[str, Tensor]', where: str = '') -> None:
    if not terms:
        return
    values = torch.stack([v.detach().float().reshape(()) for v in terms.values()])
    if bool(torch.isfinite(values).all()):
        return
    bad = [f'{k}={v:.4g}' for k, v in zip(terms, values.tolist()) if not torch.isfinite(torch.tensor(v))]
    it = MessageHub.get_current_instance().get_info('iter')
    at = f' at iteration {it + 1}' if isinstance(it, int) else ''
    raise RuntimeError(
        f'non-finite loss term{"s" if len(bad) > 1 else ""} {", ".join(bad)}{where}{at}. Training stopped before '
        'this step changed any weight; the checkpoints already saved are kept. Lower the learning rate or the '
        "term's loss_weight (or check the data), then continue from the last checkpoint with --resume.")


def _objective_of(key: str, objectives: Sequence[str]) -> Optional[str]:
    best = None
    for o in objectives:
        if key.startswith(o + '.') and (best is None or len(o) > len(best)):
            best = o
    return best


def group_losses(terms: 'OrderedDict[str, Tensor]', objectives: Sequence[str]
                 ) -> Tuple['OrderedDict[str, Tensor]', Optional[Tensor]]:
    """Loss terms (keys containing 'loss') -> ({objective: sum of its terms}, sum of the other terms or None).

    Raises ``KeyError`` naming an expected objective without any loss term.
    """
    grouped: Dict[str, List[Tensor]] = {o: [] for o in objectives}
    extras: List[Tensor] = []
    for key, value in terms.items():
        if 'loss' not in key:
            continue
        obj = _objective_of(key, objectives)
        (grouped[obj] if obj is not None else extras).append(value)
    missing = [o for o, v in grouped.items() if not v]
    if missing:
        raise KeyError(f'no loss term for objective{"s" if len(missing) > 1 else ""} {missing}: expected '
                       f'keys "<objective>.loss_*"; loss keys present: {[k for k in terms if "loss" in k]}')
    obj_losses = OrderedDict((o, sum(v[1:], v[0])) for o, v in grouped.items())
    return obj_losses, (sum(extras[1:], extras[0]) if extras else None)


def _setup_strategy(model: nn.Module) -> BaseWeighting:
    strategy = getattr(model, 'weighting', None)
    if not isinstance(strategy, BaseWeighting):
        raise AttributeError(f'{type(model).__name__}.weighting is not a jdbench weighting strategy '
                             '(build it with jdbench.weighting.build_weighting)')
    if not strategy.objectives:
        names = objective_names(strategy.balance, getattr(model, 'task_names', None),
                                getattr(model, 'teacher_names', None))
        if not names:
            raise AttributeError(f'{type(model).__name__} defines no objectives for a strategy with '
                                 f'balance={strategy.balance!r} (task_names / teacher_names are missing or '
                                 'empty)')
        strategy.setup(names)
        if strategy.has_params:
            raise RuntimeError(
                f'{type(strategy).__name__} has learnable parameters, created only now (first update), after '
                'the optimizer was built, so they would never be trained. Build the strategy with its '
                'objectives in the model\'s __init__: build_weighting(cfg, task_names=self.task_names, '
                'teacher_names=...)')
    return strategy


def _split_params(model: nn.Module, strategy: BaseWeighting) -> Tuple[List[nn.Parameter], List[nn.Parameter]]:
    fn = getattr(model, 'shared_modules', None)
    mods = fn() if callable(fn) else None
    if not mods:
        raise RuntimeError(f'{type(strategy).__name__} is a gradient strategy: {type(model).__name__} must '
                           'define shared_modules() returning the shared modules (backbone, neck); it is '
                           'missing or empty')
    shared, seen = [], set()
    for mod in mods:
        for p in mod.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                shared.append(p)
    if not shared:
        raise RuntimeError(f'{type(strategy).__name__}: the modules of '
                           f'{type(model).__name__}.shared_modules() have no trainable parameters')
    others = [p for p in model.parameters() if p.requires_grad and id(p) not in seen]
    return shared, others


def _shared_rep(model: nn.Module, strategy: BaseWeighting) -> List[Tensor]:
    rep = getattr(model, 'shared_rep', None)
    if isinstance(rep, Tensor):
        rep = (rep, )
    reps = [r for r in (rep or ()) if isinstance(r, Tensor) and r.requires_grad]
    if not reps:
        raise RuntimeError(f'{type(strategy).__name__}(rep_grad=True) needs '
                           f'{type(model).__name__}.shared_rep: the shared features of the last loss '
                           'forward, still attached to the graph')
    return reps


def _ddp_ignored_params(model: nn.Module) -> List[nn.Parameter]:
    names = set(getattr(model, '_ddp_params_and_buffers_to_ignore', ()) or ())
    return [p for n, p in model.named_parameters() if n in names and p.requires_grad] if names else []


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


def _add_grad_(param: nn.Parameter, grad: Tensor) -> None:
    grad = grad.view_as(param).to(param.dtype)
    if param.grad is None:
        param.grad = grad.clone()
    else:
        param.grad.add_(grad)


def _loss_scaler(optim_wrapper):
    scaler = getattr(optim_wrapper, 'loss_scaler', None)
    if scaler is not None and hasattr(scaler, 'is_enabled') and scaler.is_enabled():
        return scaler
    return None


class _GradAccumulator:
    """Per-objective gradients summed over the micro-batches of one accumulation window (parameter mode)."""

    def __init__(self, num: int, numel: int, num_params: int, device: torch.device) -> None:
        self.grads = torch.zeros(num + 1, numel, device=device)   # rows: objectives, then the extras
        self.losses = torch.zeros(num, device=device)
        self.touched = torch.zeros(num_params, dtype=torch.bool)


# ------------------------------------------------------------------------------------------------ updates
def _loss_update(model, strategy, obj_losses, values, extras, optim_wrapper) -> Tuple[Tensor, bool]:
    weights = strategy.weights(OrderedDict(zip(obj_losses, values.unbind(0))), int(strategy.iteration))
    total = sum(weights[o] * loss for o, loss in obj_losses.items())
    reg = strategy.regularizer()
    if reg is not None:
        total = total + reg
    if extras is not None:
        total = total + extras
    ignored = _ddp_ignored_params(model) if _world_size() > 1 else []
    if not ignored:
        optim_wrapper.update_params(total)
        return total, optim_wrapper.should_update()
    # Under JointDDP the strategy's parameters are not DDP-managed: average their gradients before the step.
    optim_wrapper.backward(optim_wrapper.scale_loss(total))
    stepped = optim_wrapper.should_update()
    if stepped:
        _sync_param_grads_(ignored)
        optim_wrapper.step()
        optim_wrapper.zero_grad()
    return total, stepped


def _grad_update(model, strategy, obj_losses, values, extras, optim_wrapper,
                 sync_grads) -> Tuple[Tensor, bool]:
    if not hasattr(optim_wrapper, '_inner_count') or type(optim_wrapper).__name__ == 'ApexOptimWrapper':
        raise TypeError(f'gradient strategies need an mmengine OptimWrapper or AmpOptimWrapper, got '
                        f'{type(optim_wrapper).__name__}')
    shared, others = _split_params(model, strategy)
    inv_accum = float(optim_wrapper.scale_loss(torch.ones(())))
    scaler = _loss_scaler(optim_wrapper)

    def scale(loss: Tensor) -> Tensor:
        loss = loss * inv_accum
        return scaler.scale(loss) if scaler is not None else loss

    names = list(obj_losses)
    transformed = strategy.transform_losses(list(obj_losses.values()))
    scaled = [scale(loss) for loss in transformed]
    scaled_extras = scale(extras) if extras is not None and extras.requires_grad else None
    amp = float(scaler.get_scale()) if scaler is not None else 1.0
    world = _world_size() if sync_grads else 1
    it = int(strategy.iteration)
    log_total = sum(v.detach() for v in obj_losses.values())
    if extras is not None:
        log_total = log_total + extras.detach()

    if strategy.rep_grad:
        stepped = _rep_step(model, strategy, names, scaled, scaled_extras, values, shared, others, amp,
                            inv_accum, world, it, optim_wrapper)
    else:
        stepped = _param_step(strategy, names, scaled, scaled_extras, values, shared, others, amp, inv_accum,
                              world, it, optim_wrapper, check_finite=scaler is None)
    return log_total, stepped


def _param_step(strategy, names, scaled, scaled_extras, values, shared, others, amp, inv_accum, world, it,
                optim_wrapper, check_finite) -> bool:
    params = shared + others
    sizes = [p.numel() for p in params]
    numel = sum(sizes)
    num_shared = sum(sizes[:len(shared)])
    acc = getattr(strategy, '_grad_acc', None)
    if acc is None or acc.grads.shape != (len(names) + 1, numel):
        acc = _GradAccumulator(len(names), numel, len(params), params[0].device)
        strategy._grad_acc = acc
    outputs = list(enumerate(scaled)) + ([(len(names), scaled_extras)] if scaled_extras is not None else [])
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
            strategy._grad_acc = None
            raise RuntimeError(f'non-finite gradient of objective(s) {bad} (the losses are finite)')
    acc.losses += values * inv_accum
    optim_wrapper._inner_count += 1          # what OptimWrapper.backward does
    if not optim_wrapper.should_update():
        return False

    strategy._grad_acc = None
    grads, losses, touched = acc.grads, acc.losses, acc.touched
    if world > 1:
        _all_reduce_mean_(grads)
        small = torch.cat([losses, touched.to(losses)])
        _all_reduce_sum_(small)
        losses = small[:len(names)] / world
        touched = small[len(names):].cpu() > 0
    obj_grads = grads[:len(names)]
    if bool(torch.isfinite(obj_grads).all()):
        shared_grad, head = strategy.combine(obj_grads[:, :num_shared], losses.detach(), it)
    else:  # AMP overflow: let the loss scaler see it and skip the step
        shared_grad, head = obj_grads[:, :num_shared].sum(0), torch.ones(len(names))
    full = torch.cat([shared_grad.to(grads), head.to(grads) @ obj_grads[:, num_shared:]]) + grads[len(names)]
    full.mul_(amp)
    offset = 0
    for p, size, t in zip(params, sizes, touched.tolist()):
        if t:
            _add_grad_(p, full[offset:offset + size])
        offset += size
    optim_wrapper.step()
    optim_wrapper.zero_grad()
    return True


def _rep_step(model, strategy, names, scaled, scaled_extras, values, shared, others, amp, inv_accum, world,
              it, optim_wrapper) -> bool:
    reps = _shared_rep(model, strategy)
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
    values = values.detach().double()
    if world > 1:
        small = torch.cat([gram.reshape(-1), values]).to(flat.device)
        _all_reduce_sum_(small)
        k = len(names)
        gram = small[:k * k].reshape(k, k) / world**2   # full-batch loss = mean of the ranks' losses
        values = small[k * k:] / world
    gram, values = gram.cpu(), values.cpu()
    if bool(torch.isfinite(gram).all()):
        coef, head = strategy.coefficients(gram, values, it)
    else:
        if amp == 1.0:
            raise RuntimeError(f'non-finite representation gradients for objectives {names}')
        coef = head = torch.ones(len(names), dtype=torch.float64)
    del flat
    combined = [sum(float(c) * row[r] for c, row in zip(coef.tolist(), rep_grads)) for r in range(len(reps))]
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
    optim_wrapper._inner_count += 1
    if not optim_wrapper.should_update():
        return False
    if world > 1:
        _sync_param_grads_(shared + others)
    optim_wrapper.step()
    optim_wrapper.zero_grad()
    return True


# ------------------------------------------------------------------------------------------------ entry point
def weighted_update(model: nn.Module,
                    losses: LossDict,
                    optim_wrapper,
                    sync_grads: bool = False,
                    loss_fn: Optional[Callable[[], LossDict]] = None) -> Dict[str, Tensor]:
    """One update of ``model`` (which holds ``model.weighting``) from its loss dict.

    Args:
        model (nn.Module): the unwrapped model: ``weighting``, ``task_names`` (and ``teacher_names`` for
            ``balance='distill'/'all'``); for gradient strategies ``shared_modules()`` and, with
            ``rep_grad=True``, ``shared_rep``.
        losses (dict): ``'<objective>.<term>'`` -> tensor (or list of tensors). Keys containing ``'loss'`` are
            losses; the terms of the balanced objectives are weighted, the others are added unweighted.
        optim_wrapper (OptimWrapper): honoured for accumulation (``scale_loss``/``should_update``), AMP
            (``loss_scaler``), clipping (``step``) and its ``_inner_count``.
        sync_grads (bool): all-reduce (mean) the per-objective gradients before combining and the other
        gradients before the step (``JointDDP`` sets it for gradient strategies).
        loss_fn (callable, optional): recomputes the loss dict on the same batch (no grad is taken); called
        after an optimizer step when the strategy needs the post-step losses (FAMO).

    Returns:
        dict: log vars: ``loss`` (the optimised total; for gradient strategies the plain sum), every entry of
        ``losses`` (reduced to a scalar) and ``w.<objective>``.
    """
    strategy = _setup_strategy(model)
    terms = parse_terms(losses)
    loss_terms = OrderedDict((k, v) for k, v in terms.items() if 'loss' in k)
    _check_finite(loss_terms)
    obj_losses, extras = group_losses(loss_terms, strategy.objectives)
    values = torch.stack([v.detach().float().reshape(()) for v in obj_losses.values()])
    if not strategy.is_grad_based:
        _all_reduce_mean_(values)      # every rank's strategy sees the full-batch losses
    if strategy.is_grad_based:
        total, stepped = _grad_update(model, strategy, obj_losses, values, extras, optim_wrapper, sync_grads)
    else:
        total, stepped = _loss_update(model, strategy, obj_losses, values, extras, optim_wrapper)
    if stepped:
        post = None
        if strategy.needs_post_step_losses:
            if loss_fn is None:
                raise RuntimeError(f'{type(strategy).__name__} needs the losses after the optimizer step: '
                                   'pass loss_fn=lambda: self._run_forward(data, mode="loss") to '
                                   'weighted_update (see docs/weighting.md)')
            with torch.no_grad():
                new_terms = parse_terms(loss_fn())
            new_terms = OrderedDict((k, v) for k, v in new_terms.items() if 'loss' in k)
            _check_finite(new_terms, ' (losses re-evaluated after the step)')
            new_obj, _ = group_losses(new_terms, strategy.objectives)
            post = _all_reduce_mean_(torch.stack([v.detach().float().reshape(()) for v in new_obj.values()]))
        strategy.after_step(post)
        strategy.iteration += 1

    log_vars: 'OrderedDict[str, Tensor]' = OrderedDict(loss=total.detach())
    for key, value in terms.items():
        log_vars[key] = value.detach()
    for name in strategy.objectives:
        if name in strategy.last_weights:
            log_vars[f'w.{name}'] = torch.tensor(strategy.last_weights[name])
    return log_vars


def weighted_train_step(model: nn.Module, data, optim_wrapper) -> Dict[str, Tensor]:
    """mmengine's ``train_step`` for a model with ``model.weighting``: pre-process, forward in ``loss`` mode
    under the optim context, then :func:`weighted_update` (with a ``loss_fn`` re-running the same batch for
    strategies that need post-step losses, e.g. FAMO). Without a strategy the terms are summed as usual."""
    with optim_wrapper.optim_context(model):
        data = model.data_preprocessor(data, True)
        losses = model._run_forward(data, mode='loss')
    if getattr(model, 'weighting', None) is None:
        parsed, log_vars = model.parse_losses(losses)
        optim_wrapper.update_params(parsed)
        return log_vars
    loss_fn = None
    if getattr(model.weighting, 'needs_post_step_losses', False):

        def loss_fn():
            with optim_wrapper.optim_context(model):
                return model._run_forward(data, mode='loss')

    return weighted_update(model, losses, optim_wrapper, loss_fn=loss_fn)
