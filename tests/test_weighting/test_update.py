"""WeightedOptimWrapper on the toy model: exact updates, accumulation, errors, state round trips."""
import copy
import io
import subprocess
import sys

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper

from jdbench.engine.optimizers import WeightedOptimWrapper
from jdbench.models.objectives import Objective
from jdbench.registry import WEIGHTINGS
from jdbench.weighting import build_weighting, registered_strategies
from .toy import ToyJoint, toy_batch

ALL = registered_strategies()


def _cfg(name, **kw):
    cfg = dict(type=name, **kw)
    if name == 'Fixed':
        cfg.setdefault('weights', {})
        cfg.setdefault('default', 0.5)
    return cfg


def _ow(model, lr=0.1, momentum=0.0, **kw):
    return WeightedOptimWrapper(torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum), **kw)


def _params(model):
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def _flat(grads):
    return torch.cat([g.reshape(-1) for g in grads])


def test_registry_has_all_required_strategies():
    for name in ('Fixed', 'EW', 'UW', 'DWA', 'GradNorm', 'MGDA', 'PCGrad', 'CAGrad', 'IMTL', 'GradVac',
                 'NashMTL', 'RLW', 'AlignedMTL', 'DBMTL', 'FAMO', 'Feedback'):
        assert name in ALL


@pytest.mark.parametrize('name', ALL)
@pytest.mark.parametrize('balance', ['tasks', 'all'])
def test_every_strategy_trains_the_toy(name, balance):
    torch.manual_seed(0)
    model = ToyJoint(weighting=_cfg(name, balance=balance), distill=True)
    ow = _ow(model, lr=0.05)
    before = _params(model)
    for i in range(3):
        log = model.train_step(toy_batch(seed=i), ow)
    objectives = ['seg', 'depth'] + (['kd.seg', 'kd.depth'] if balance == 'all' else [])
    assert model.weighting.objectives == objectives
    assert {'loss', 'seg.loss_mse', 'seg.acc_fake', 'depth.loss_l1', 'kd.seg.loss_kd',
            'feat.loss_feat'} <= set(log)
    assert all(f'w.{o}' in log for o in objectives)
    assert all(torch.isfinite(v).all() for v in log.values())
    assert int(model.weighting.iteration) == 3
    after = _params(model)
    assert not torch.equal(before['backbone.weight'], after['backbone.weight'])
    assert not torch.equal(before['heads.seg.weight'], after['heads.seg.weight'])
    for k in ('teachers.seg.weight', 'teachers.depth.bias'):
        assert torch.equal(before[k], after[k])


def test_ew_matches_mmengine_default_update():
    a, b = ToyJoint(weighting=dict(type='EW')), ToyJoint()
    ow_a, ow_b = _ow(a, momentum=0.9), OptimWrapper(torch.optim.SGD(b.parameters(), lr=0.1, momentum=0.9))
    for i in range(2):
        log_a = a.train_step(toy_batch(seed=i), ow_a)
        log_b = BaseModel.train_step(b, toy_batch(seed=i), ow_b)
    for k, v in _params(b).items():
        torch.testing.assert_close(_params(a)[k], v)
    assert log_a['loss'].item() == pytest.approx(log_b['loss'].item())
    assert log_a['w.seg'].item() == 1.0


def test_uw_update_matches_closed_form():
    model = ToyJoint(weighting=dict(type='UW', init_log_var=0.2))
    ref = copy.deepcopy(model)
    ow = _ow(model, lr=0.5)
    batch = toy_batch()
    log = model.train_step(batch, ow)
    losses = ref(**batch, mode='loss')
    s = ref.weighting.log_vars
    total = torch.exp(-s[0]) * losses['seg.loss_mse'] + torch.exp(-s[1]) * losses['depth.loss_l1'] + s.sum()
    assert log['loss'].item() == pytest.approx(total.item(), rel=1e-6)
    total.backward()
    for (name, p), (_, q) in zip(ref.named_parameters(), model.named_parameters()):
        torch.testing.assert_close(q, p.detach() - 0.5 * p.grad, msg=name)


def _manual_grads(model, batch, objectives, extra_keys):
    """Per-objective gradients over (backbone, non-shared) and the gradient of the extra terms."""
    losses = model(**batch, mode='loss')
    shared = list(model.backbone.parameters())
    others = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith('backbone')]
    obj = [sum(v for k, v in losses.items() if k.startswith(o + '.') and 'loss' in k) for o in objectives]
    extra = sum(losses[k] for k in extra_keys)
    per = [torch.autograd.grad(l, shared + others, retain_graph=True, allow_unused=True) for l in obj]
    per = [[g if g is not None else torch.zeros_like(p) for g, p in zip(gs, shared + others)] for gs in per]
    ex = torch.autograd.grad(extra, shared + others, retain_graph=True, allow_unused=True)
    ex = [g if g is not None else torch.zeros_like(p) for g, p in zip(ex, shared + others)]
    return losses, obj, per, ex, shared, others


def test_pcgrad_update_is_exact_on_toy():
    model = ToyJoint(weighting=dict(type='PCGrad'), distill=True, seed=3)
    ref = copy.deepcopy(model)
    batch = toy_batch(seed=4)
    _, _, per, ex, shared, others = _manual_grads(ref, batch, ['seg', 'depth'],
                                                   ['kd.seg.loss_kd', 'kd.depth.loss_kd', 'feat.loss_feat'])
    n = len(shared)
    g1, g2 = _flat(per[0][:n]), _flat(per[1][:n])
    dot = g1 @ g2
    p1 = g1 - dot / (g2 @ g2) * g2 if dot < 0 else g1
    p2 = g2 - dot / (g1 @ g1) * g1 if dot < 0 else g2
    expected_shared = p1 + p2 + _flat(ex[:n])
    ow = _ow(model, lr=1.0)
    model.train_step(batch, ow)
    got_shared = torch.cat([(p0 - p).reshape(-1) for p0, p in zip(shared, model.backbone.parameters())])
    torch.testing.assert_close(got_shared, expected_shared.detach(), rtol=1e-5, atol=1e-6)
    others_new = [p for n_, p in model.named_parameters()
                  if p.requires_grad and not n_.startswith('backbone')]
    for i, (p0, p) in enumerate(zip(others, others_new)):
        torch.testing.assert_close(p0 - p, per[0][n + i] + per[1][n + i] + ex[n + i])
    assert dot < 0, 'the toy should have conflicting task gradients'


def test_mgda_rep_grad_is_mgda_ub():
    model = ToyJoint(weighting=dict(type='MGDA', rep_grad=True), distill=True, seed=1)
    ref = copy.deepcopy(model)
    batch = toy_batch(seed=2)
    losses = ref(**batch, mode='loss')
    feat = ref.shared_rep[0]
    obj = [losses['seg.loss_mse'], losses['depth.loss_l1']]
    zs = [torch.autograd.grad(l, feat, retain_graph=True)[0].reshape(-1) for l in obj]
    a = ((zs[1] @ (zs[1] - zs[0])) / (zs[0] - zs[1]).pow(2).sum()).clamp(0, 1)
    extra = losses['kd.seg.loss_kd'] + losses['kd.depth.loss_kd'] + losses['feat.loss_feat']
    shared = list(ref.backbone.parameters())
    others = [p for n, p in ref.named_parameters() if p.requires_grad and not n.startswith('backbone')]
    g_shared = torch.autograd.grad(a * obj[0] + (1 - a) * obj[1] + extra, shared, retain_graph=True)
    g_other = torch.autograd.grad(obj[0] + obj[1] + extra, others, allow_unused=True)
    ow = _ow(model, lr=1.0)
    log = model.train_step(batch, ow)
    assert log['w.seg'].item() == pytest.approx(a.item(), rel=1e-5)
    for p0, p, g in zip(shared, model.backbone.parameters(), g_shared):
        torch.testing.assert_close(p0 - p, g, rtol=1e-5, atol=1e-6)
    new_others = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith('backbone')]
    for p0, p, g in zip(others, new_others, g_other):
        torch.testing.assert_close(p0 - p, g if g is not None else torch.zeros_like(p0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('cfg', [dict(type='UW'), dict(type='RLW'), dict(type='MGDA'),
                                 dict(type='PCGrad'), dict(type='DBMTL'), dict(type='NashMTL'),
                                 dict(type='IMTL'), dict(type='GradNorm')])
def test_gradient_accumulation_equals_full_batch(cfg):
    full = ToyJoint(weighting=cfg, distill=True, seed=5)
    acc = copy.deepcopy(full)
    ow_full = _ow(full, lr=0.1, momentum=0.9)
    ow_acc = _ow(acc, lr=0.1, momentum=0.9, accumulative_counts=2)
    for step in range(2):
        batch = toy_batch(n=8, seed=10 + step)
        full.train_step(batch, ow_full)
        for half in (slice(0, 4), slice(4, 8)):
            acc.train_step({k: v[half] for k, v in batch.items()}, ow_acc)
    for (name, p), (_, q) in zip(full.named_parameters(), acc.named_parameters()):
        torch.testing.assert_close(q, p, rtol=1e-5, atol=1e-6, msg=name)
    for (name, b), (_, c) in zip(full.weighting.state_dict().items(), acc.weighting.state_dict().items()):
        if isinstance(b, torch.Tensor):
            torch.testing.assert_close(c, b, rtol=1e-5, atol=1e-6, msg=name)


def test_log_vars_and_extras():
    model = ToyJoint(weighting=dict(type='Fixed', weights=dict(seg=2.0, depth=0.5)), distill=True)
    ref = copy.deepcopy(model)
    batch = toy_batch()
    log = model.train_step(batch, _ow(model))
    losses = ref(**batch, mode='loss')
    expected = 2.0 * losses['seg.loss_mse'] + 0.5 * losses['depth.loss_l1'] + losses['kd.seg.loss_kd'] + \
        losses['kd.depth.loss_kd'] + losses['feat.loss_feat']
    assert list(log)[0] == 'loss'
    assert log['loss'].item() == pytest.approx(expected.item(), rel=1e-6)
    assert log['seg.acc_fake'].item() == pytest.approx(losses['seg.acc_fake'].item())
    assert (log['w.seg'].item(), log['w.depth'].item()) == (2.0, 0.5)
    assert model.weighting.last_weights == {'seg': 2.0, 'depth': 0.5}


# ------------------------------------------------------------------------------------------------ errors
def test_unknown_strategy_lists_registered():
    with pytest.raises(KeyError) as err:
        build_weighting(dict(type='NoSuchStrategy'))
    msg = str(err.value)
    assert 'NoSuchStrategy' in msg and 'PCGrad' in msg and 'UW' in msg and 'Feedback' in msg


def test_nan_loss_names_the_term():
    model = ToyJoint(weighting=dict(type='EW'))
    losses = model(**toy_batch(), mode='loss')
    losses['depth.loss_l1'] = losses['depth.loss_l1'] * float('nan')
    with pytest.raises(RuntimeError, match=r'depth\.loss_l1=nan at iteration 1\b'):
        _ow(model).update_weighted(model, losses)
    losses = model(**toy_batch(), mode='loss')
    losses['seg.loss_mse'] = losses['seg.loss_mse'] + float('inf')
    ow = _ow(model)
    ow.initialize_count_status(model, 4, 10)       # as the runner does: the message names its iteration
    with pytest.raises(RuntimeError, match='seg.loss_mse=inf at iteration 5'):
        ow.update_weighted(ToyJoint(weighting=dict(type='PCGrad')), losses)


def test_missing_objective_is_named():
    model = ToyJoint(weighting=dict(type='MGDA'))
    losses = model(**toy_batch(), mode='loss')
    losses.pop('depth.loss_l1')
    with pytest.raises(KeyError, match="depth"):
        _ow(model).update_weighted(model, losses)
    model = ToyJoint(weighting=dict(type='EW', balance='distill'))   # no teachers: nothing to balance
    with pytest.raises(AttributeError, match='distill'):
        _ow(model).update_weighted(model, model(**toy_batch(), mode='loss'))


def test_gradient_strategy_needs_shared_modules():
    class NoShared(ToyJoint):
        def shared_modules(self):
            return []

    model = NoShared(weighting=dict(type='PCGrad'))
    with pytest.raises(RuntimeError, match='shared_modules'):
        model.train_step(toy_batch(), _ow(model))


def test_learnable_strategy_must_be_built_with_objectives():
    model = ToyJoint()
    model.weighting = build_weighting(dict(type='UW'))     # no names: set up lazily at the first update
    with pytest.raises(RuntimeError, match='learnable parameters'):
        model.train_step(toy_batch(), _ow(model))
    model = ToyJoint()
    model.weighting = build_weighting(dict(type='DWA'))    # buffers only: lazy set-up is fine
    model.train_step(toy_batch(), _ow(model))
    assert model.weighting.objectives == ['seg', 'depth']


def test_famo_needs_post_step_losses():
    model = ToyJoint(weighting=dict(type='FAMO'))
    ow = _ow(model)
    with pytest.raises(RuntimeError, match='loss_fn'):
        ow.update_weighted(model, model(**toy_batch(), mode='loss'))
    model = ToyJoint(weighting=dict(type='FAMO', post_step='next_batch'))
    _ow(model).update_weighted(model, model(**toy_batch(), mode='loss'))
    assert bool(model.weighting.pending)


def test_plain_optim_wrapper_is_refused_with_the_fix():
    model = ToyJoint(weighting=dict(type='EW'))
    with pytest.raises(TypeError, match=r"optim_wrapper=dict\(type='WeightedOptimWrapper'"):
        model.train_step(toy_batch(), OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1)))


# ------------------------------------------------------------------------------------------------ the wrapper
def test_wrapper_owns_accumulation_count_and_accumulator():
    model = ToyJoint(weighting=dict(type='PCGrad'), distill=True)
    ow = _ow(model, accumulative_counts=2)
    model.train_step(toy_batch(n=4, seed=0), ow)
    assert ow._inner_count == 1 and ow._grad_acc is not None         # half a window: no step yet
    assert int(model.weighting.iteration) == 0 and not hasattr(model.weighting, '_grad_acc')
    model.train_step(toy_batch(n=4, seed=1), ow)
    assert ow._inner_count == 2 and ow._grad_acc is None and int(model.weighting.iteration) == 1


def test_objectives_are_grouped_by_declared_prefix():
    """An objective's keys are those of its declared prefix, whatever its name."""
    class Renamed(ToyJoint):
        def objectives(self):
            return [Objective('sem', 'seg.', 'task', 'seg'), Objective('dep', 'depth.', 'task', 'depth')]

    model = Renamed(weighting=dict(type='Fixed', weights=dict(sem=2.0, dep=0.5)))
    ref = copy.deepcopy(model)
    batch = toy_batch()
    log = model.train_step(batch, _ow(model))
    losses = ref(**batch, mode='loss')
    assert log['loss'].item() == pytest.approx(2.0 * losses['seg.loss_mse'].item() +
                                               0.5 * losses['depth.loss_l1'].item(), rel=1e-6)
    assert (log['w.sem'].item(), log['w.dep'].item()) == (2.0, 0.5)


def test_gradient_strategy_writes_only_its_optimizers_parameters():
    """With several optimizers (OptimWrapperDict) a wrapper touches only the parameters it steps."""
    model = ToyJoint(weighting=dict(type='PCGrad'))
    mine = [p for n, p in model.named_parameters() if not n.startswith('heads.depth')]
    ow = WeightedOptimWrapper(torch.optim.SGD(mine, lr=0.1), accumulative_counts=2)
    model.train_step(toy_batch(n=4, seed=0), ow)
    model.train_step(toy_batch(n=4, seed=1), ow)    # the step: .grad written, stepped and zeroed (None)
    assert model.heads.depth.weight.grad is None and model.heads.seg.weight.grad is None
    model.train_step(toy_batch(n=4, seed=2), ow)    # a micro-batch: nothing written into .grad yet
    assert all(p.grad is None for p in model.parameters())


def test_optim_wrappers_resolve_from_a_config_in_a_fresh_process():
    code = ('import torch, jdbench; from mmengine.registry import init_default_scope; '
            'from mmengine.optim import build_optim_wrapper; init_default_scope("jdbench"); '
            'm = torch.nn.Linear(2, 1); '
            'print(*(type(build_optim_wrapper(m, dict(type=t, optimizer=dict(type="SGD", lr=0.1)))).__name__ '
            'for t in ("WeightedOptimWrapper", "OptimWrapper")))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ['WeightedOptimWrapper', 'OptimWrapper']


# ------------------------------------------------------------------------------------------------ state
def _poke(model, name):
    if name == 'Feedback':  # scores keyed by objective, each the score of its task (Objective.score)
        score = {o.name: o.score for o in model.objectives()}
        student, teacher = {'seg': 0.5, 'depth': 0.8}, {'seg': 0.7, 'depth': 0.9}
        names = model.weighting.objectives
        model.weighting.update({o: student[score[o]] for o in names}, {o: teacher[score[o]] for o in names})


@pytest.mark.parametrize('name', ALL)
def test_state_dict_round_trip(name):
    cfg = _cfg(name, balance='all')
    model = ToyJoint(weighting=cfg, distill=True, seed=2)
    ow = _ow(model, lr=0.05)
    for i in range(3):
        _poke(model, name)
        model.train_step(toy_batch(seed=i), ow)
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    assert bytes(state['weighting.objective_names'].tolist()).decode() == 'seg\ndepth\nkd.seg\nkd.depth'

    # a fresh strategy (no objectives given) learns them from the state dict
    fresh = WEIGHTINGS.build(cfg)
    fresh.load_state_dict({k[len('weighting.'):]: v for k, v in state.items() if k.startswith('weighting.')})
    assert fresh.objectives == model.weighting.objectives
    for (k, a), (_, b) in zip(model.weighting.state_dict().items(), fresh.state_dict().items()):
        if isinstance(a, torch.Tensor):
            assert torch.equal(a, b), k

    # a fresh model restored from the checkpoint continues exactly like the original
    restored = ToyJoint(weighting=cfg, distill=True, seed=99)
    restored.load_state_dict(state)
    ow_a, ow_b = _ow(model, lr=0.05), _ow(restored, lr=0.05)
    _poke(model, name)
    _poke(restored, name)
    log_a = model.train_step(toy_batch(seed=7), ow_a)
    log_b = restored.train_step(toy_batch(seed=7), ow_b)
    for (k, a), (_, b) in zip(model.state_dict().items(), restored.state_dict().items()):
        if isinstance(a, torch.Tensor):
            torch.testing.assert_close(b, a, msg=k)
    assert {k: v.item() for k, v in log_a.items()} == pytest.approx({k: v.item() for k, v in log_b.items()})


@pytest.mark.parametrize('cfg', [dict(type='EW'), dict(type='UW', init_log_var=0.1),
                                 dict(type='DWA', window=1), dict(type='Feedback', balance='tasks')])
def test_checkpoint_objectives_match_by_name(cfg):
    """A strategy saved with ['seg', 'depth'] loads into one set up as ['depth', 'seg']: every value stays
    with its objective (the strategy takes the checkpoint's order) and training continues as the saved one."""
    saved = ToyJoint(weighting=cfg, seed=2)
    ow = _ow(saved, lr=0.05)
    for i in range(3):
        if cfg['type'] == 'Feedback':
            saved.weighting.update({'seg': 0.5, 'depth': 0.8}, {'seg': 0.7, 'depth': 0.9})
        saved.train_step(toy_batch(seed=i), ow)
    state = copy.deepcopy(saved.state_dict())
    assert saved.weighting.objectives == ['seg', 'depth']

    class Swapped(ToyJoint):
        def objectives(self):
            return super().objectives()[::-1]

    loaded = Swapped(weighting=cfg, seed=9)
    assert loaded.weighting.objectives == ['depth', 'seg']
    loaded.load_state_dict(state)
    assert loaded.weighting.objectives == ['seg', 'depth']
    for (k, a), (_, b) in zip(saved.weighting.state_dict().items(), loaded.weighting.state_dict().items()):
        assert torch.equal(a, b), k
    log_a = saved.train_step(toy_batch(seed=5), _ow(saved, lr=0.05))
    log_b = loaded.train_step(toy_batch(seed=5), _ow(loaded, lr=0.05))
    assert {k: v.item() for k, v in log_a.items()} == {k: v.item() for k, v in log_b.items()}
    assert log_b['w.seg'].item() == saved.weighting.last_weights['seg']


def test_checkpoint_with_other_objectives_is_an_error():
    state = ToyJoint(weighting=dict(type='EW')).state_dict()
    other = ToyJoint(weighting=dict(type='EW', balance='all'), distill=True)
    with pytest.raises(RuntimeError, match=r"checkpoint balances objectives \['seg', 'depth'\], this model "
                                           r"\['seg', 'depth', 'kd.seg', 'kd.depth'\]"):
        other.load_state_dict(state)


def test_feedback_checkpoint_with_the_old_counter_loads():
    """Checkpoints written before the redesign carry the unread ``num_feedback`` buffer."""
    model = ToyJoint(weighting=dict(type='Feedback', balance='all'), distill=True)
    model.weighting.update({o: 0.5 for o in model.weighting.objectives},
                           {o: 0.9 - 0.1 * i for i, o in enumerate(model.weighting.objectives)})
    state = dict(model.state_dict(), **{'weighting.num_feedback': torch.tensor(3)})
    fresh = ToyJoint(weighting=dict(type='Feedback', balance='all'), distill=True)
    fresh.load_state_dict(state)      # strict
    assert torch.equal(fresh.weighting.omega, model.weighting.omega)
    assert 'weighting.num_feedback' not in fresh.state_dict()
