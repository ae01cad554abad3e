"""Each strategy against a known answer (hand-computed or closed form)."""
import math

import pytest
import torch

from jdbench.models.objectives import distill_objectives, task_objectives
from jdbench.registry import WEIGHTINGS
from jdbench.weighting import build_weighting, objective_names

TWO = ['seg', 'depth']


def _build(cfg, objectives=TWO):
    return build_weighting(cfg, objectives=task_objectives(objectives))


def _kd(seg, depth):
    """Scores keyed by the distillation objectives."""
    return {'kd.seg': seg, 'kd.depth': depth}


def test_balance_selects_the_declared_objectives():
    declared = task_objectives(TWO) + distill_objectives(TWO)
    assert objective_names('tasks', declared) == ['seg', 'depth']
    assert objective_names('distill', declared) == ['kd.seg', 'kd.depth']
    assert objective_names('all', declared) == ['seg', 'depth', 'kd.seg', 'kd.depth']
    assert build_weighting(dict(type='EW', balance='distill'), objectives=declared).objectives == \
        ['kd.seg', 'kd.depth']
    assert [o.score for o in declared] == ['seg', 'depth', 'seg', 'depth']
    with pytest.raises(ValueError, match='balance'):
        objective_names('teachers', declared)


def _losses(*vals, names=TWO):
    return {n: torch.tensor(float(v)) for n, v in zip(names, vals)}


# ------------------------------------------------------------------------------------------ loss strategies
def test_ew_and_fixed():
    assert _build(dict(type='EW')).weights(_losses(3, 4), 0)['depth'].item() == 1.0
    w = _build(dict(type='Fixed', weights=dict(seg=0.5, depth=2.0))).weights(_losses(3, 4), 0)
    assert (w['seg'].item(), w['depth'].item()) == (0.5, 2.0)
    with pytest.raises(KeyError, match='depth'):
        _build(dict(type='Fixed', weights=dict(seg=1.0)))
    w = _build(dict(type='Fixed', weights=dict(seg=3.0), default=0.25)).weights(_losses(1, 1), 0)
    assert w['depth'].item() == 0.25


def test_uw_closed_form():
    uw = _build(dict(type='UW', init_log_var=0.3))
    losses = _losses(2.0, 0.5)
    w = uw.weights(losses, 0)
    total = sum(w[k] * losses[k] for k in TWO) + uw.regularizer()
    # total = sum_k exp(-s_k) L_k + s_k
    assert total.item() == pytest.approx(math.exp(-0.3) * 2.5 + 0.6, rel=1e-6)
    total.backward()
    expected = [1 - math.exp(-0.3) * 2.0, 1 - math.exp(-0.3) * 0.5]   # d/ds = 1 - exp(-s) L
    assert uw.log_vars.grad.tolist() == pytest.approx(expected, rel=1e-6)
    assert uw.last_weights['seg'] == pytest.approx(math.exp(-0.3))


def test_dwa_known_weights():
    dwa = _build(dict(type='DWA', window=2, temperature=2.0))
    history = [(1, 1), (1, 1), (0.5, 1), (0.5, 1)]
    for i, (a, b) in enumerate(history):
        w = dwa.weights(_losses(a, b), i)
        assert [w['seg'].item(), w['depth'].item()] == [1.0, 1.0]          # fewer than 2 windows recorded
    w = dwa.weights(_losses(0.5, 1), 4)
    # r = mean(last window) / mean(window before) = (0.5, 1); w = 2 softmax(r / 2)
    seg = 2 / (1 + math.exp(0.25))
    assert w['seg'].item() == pytest.approx(seg, rel=1e-6)
    assert w['depth'].item() == pytest.approx(2 - seg, rel=1e-6)
    # next: windows (1, 0.5) -> (0.5, 0.5) for seg, depth unchanged
    w = dwa.weights(_losses(0.5, 1), 5)
    r_seg = 0.5 / 0.75
    assert w['seg'].item() == pytest.approx(2 * math.exp(r_seg / 2) / (math.exp(r_seg / 2) + math.exp(0.5)))


def test_dwa_interval_holds_weights():
    dwa = _build(dict(type='DWA', window=1, interval=2))
    seq = [(1, 1), (1, 1), (1, 1), (0.5, 1), (0.5, 1), (0.5, 1)]
    ws = [dwa.weights(_losses(*v), i)['seg'].item() for i, v in enumerate(seq)]
    assert ws[:4] == [1.0, 1.0, 1.0, 1.0]
    assert ws[4] == pytest.approx(2 / (1 + math.exp(0.25)))    # recomputed: windows (1) -> (0.5)
    assert ws[5] == ws[4]     # held (recomputing would give windows (0.5) -> (0.5), weight 1)


def test_rlw_deterministic_and_on_simplex():
    a = _build(dict(type='RLW', seed=3))
    b = _build(dict(type='RLW', seed=3))
    wa = [a.weights(_losses(1, 1), i) for i in range(3)]
    wb = [b.weights(_losses(1, 1), i) for i in range(3)]
    for x, y in zip(wa, wb):
        assert x['seg'].item() == y['seg'].item()
        assert x['seg'].item() + x['depth'].item() == pytest.approx(1.0)
    assert wa[0]['seg'].item() != wa[1]['seg'].item()
    d = _build(dict(type='RLW', distribution='dirichlet')).weights(_losses(1, 1), 0)
    assert d['seg'].item() + d['depth'].item() == pytest.approx(1.0)


@pytest.mark.parametrize('optimizer,step', [('sgd', 0.025 * 0.160464), ('adam', 0.025)])
def test_famo_hand_computed(optimizer, step):
    famo = _build(dict(type='FAMO', optimizer=optimizer, gamma=0.0))
    w = famo.weights(_losses(1.0, 2.0), 0)
    # z = (0.5, 0.5); w_k = c z_k / L_k with c = 1 / sum(z / L) = 1 / 0.75
    assert [w['seg'].item(), w['depth'].item()] == pytest.approx([2 / 3, 1 / 3], rel=1e-6)
    famo.after_step(torch.tensor([0.5, 1.9]))
    # delta = log L_before - log L_after = (log 2, log(2 / 1.9)); grad = z * (delta - z.delta) = (+-0.160464)
    assert famo.logits.tolist() == pytest.approx([-step, step], rel=1e-4)
    # the objective that improved most (seg) loses weight
    w = famo.weights(_losses(1.0, 1.0), 1)
    assert w['seg'].item() < 0.5 < w['depth'].item()


def test_famo_next_batch_mode():
    famo = _build(dict(type='FAMO', optimizer='sgd', gamma=0.0, post_step='next_batch'))
    assert not famo.needs_post_step_losses
    famo.weights(_losses(1.0, 2.0), 0)
    famo.after_step(None)
    famo.weights(_losses(0.5, 1.9), 1)     # the next batch's losses stand for the post-step losses
    assert famo.logits.tolist() == pytest.approx([-0.025 * 0.160464, 0.025 * 0.160464], rel=1e-4)


def test_feedback_update_hand_computed():
    fb = build_weighting(dict(type='Feedback'), objectives=distill_objectives(TWO))
    assert fb.objectives == ['kd.seg', 'kd.depth'] and fb.balance == 'distill'
    assert fb.weights(_losses(1, 1, names=fb.objectives), 0)['kd.seg'].item() == 1.0
    # a = (0.5, 1.0), a_bar = 0.75, omega_bar = 1, alpha = 1 -> target = (0.5, 1.0)
    # omega <- omega - 0.5 omega (omega - target) = (0.75, 1.0); renormalised to sum 2
    new = fb.update(_kd(0.4, 0.9), _kd(0.8, 0.9))
    assert [new['kd.seg'], new['kd.depth']] == pytest.approx([0.75 * 2 / 1.75, 2 / 1.75])
    w = fb.weights(_losses(1, 1, names=fb.objectives), 1)
    assert w['kd.seg'].item() == pytest.approx(0.75 * 2 / 1.75)

    fb2 = build_weighting(dict(type='Feedback', alpha=2.0), objectives=distill_objectives(TWO))
    # target = omega_bar * a * a_bar = (0.375, 0.75) -> omega = (0.6875, 0.875) -> (0.88, 1.12)
    new = fb2.update(_kd(0.4, 0.9), _kd(0.8, 0.9))
    assert [new['kd.seg'], new['kd.depth']] == pytest.approx([0.88, 1.12])

    gap = build_weighting(dict(type='Feedback', mode='gap'), objectives=distill_objectives(TWO))
    # 1/a = (2, 1): target = (2, 1) -> omega = (1.5, 1.0) -> (1.2, 0.8)
    new = gap.update(_kd(0.4, 0.9), _kd(0.8, 0.9))
    assert [new['kd.seg'], new['kd.depth']] == pytest.approx([1.2, 0.8])

    clip = build_weighting(dict(type='Feedback', beta=1.0, omega_min=0.5),
                          objectives=distill_objectives(TWO))
    # target = (0.1, 1): omega = (1 - 0.9, 1) = (0.1, 1) -> clipped (0.5, 1) -> (2/3, 4/3)
    new = clip.update(_kd(0.1, 1.0), _kd(1.0, 1.0))
    assert [new['kd.seg'], new['kd.depth']] == pytest.approx([2 / 3, 4 / 3])
    with pytest.raises(KeyError, match='depth'):
        clip.update({'kd.seg': 0.1}, _kd(1.0, 1.0))


# ------------------------------------------------------------------------------------------ grad strategies
def _g(*rows):
    return torch.tensor(rows, dtype=torch.float32)


def test_pcgrad_projects_conflicting_gradients():
    pc = _build(dict(type='PCGrad'))
    g = _g([1.0, 0.0], [-1.0, 1.0])
    d, head = pc.combine(g, torch.ones(2), 0)
    # g1' = g1 - (g1.g2)/|g2|^2 g2 = (0.5, 0.5); g2' = g2 - (g1.g2)/|g1|^2 g1 = (0, 1)
    assert d.tolist() == pytest.approx([0.5, 1.5])
    assert head.tolist() == [1.0, 1.0]
    assert [pc.last_weights['seg'], pc.last_weights['depth']] == pytest.approx([2.0, 1.5])
    d, _ = pc.combine(_g([1.0, 0.0], [1.0, 1.0]), torch.ones(2), 1)     # no conflict: the sum
    assert d.tolist() == pytest.approx([2.0, 1.0])


def test_gradvac_first_step_equals_pcgrad_and_updates_targets():
    gv = _build(dict(type='GradVac', beta=0.01))
    d, _ = gv.combine(_g([1.0, 0.0], [-1.0, 1.0]), torch.ones(2), 0)
    assert d.tolist() == pytest.approx([0.5, 1.5], rel=1e-6)
    cos = -1 / math.sqrt(2)
    assert gv.rho_hat.flatten().tolist() == pytest.approx([0.0, 0.01 * cos, 0.01 * cos, 0.0], rel=1e-5)


def test_mgda_min_norm_of_two():
    mgda = _build(dict(type='MGDA'))
    g = _g([1.0, 0.0], [0.0, 2.0])
    d, head = mgda.combine(g, torch.ones(2), 0)
    # a = (g2.(g2 - g1)) / |g1 - g2|^2 = 0.8: d = 0.8 g1 + 0.2 g2
    assert d.tolist() == pytest.approx([0.8, 0.4])
    assert head.tolist() == [1.0, 1.0]
    torch.manual_seed(0)
    g = torch.randn(2, 7)
    d, _ = mgda.combine(g, torch.ones(2), 0)
    a = ((g[1] @ (g[1] - g[0])) / (g[0] - g[1]).pow(2).sum()).clamp(0, 1)
    assert d.tolist() == pytest.approx((a * g[0] + (1 - a) * g[1]).tolist(), rel=1e-5, abs=1e-6)
    d_l2, _ = _build(dict(type='MGDA', normalization='l2')).combine(g, torch.ones(2), 0)
    u = g / g.norm(dim=1, keepdim=True)
    a = ((u[1] @ (u[1] - u[0])) / (u[0] - u[1]).pow(2).sum()).clamp(0, 1)
    assert d_l2.tolist() == pytest.approx((a * u[0] + (1 - a) * u[1]).tolist(), rel=1e-5, abs=1e-6)


def test_cagrad_zero_radius_is_mean():
    d, head = _build(dict(type='CAGrad', c=0.0)).combine(_g([1.0, 0.0], [-1.0, 3.0]), torch.ones(2), 0)
    assert d.tolist() == pytest.approx([0.0, 1.5])


def test_imtl_equal_projections():
    torch.manual_seed(1)
    names = ['a', 'b', 'c']
    imtl = _build(dict(type='IMTL', mode='grad'), names)
    g = torch.randn(3, 6)
    d, head = imtl.combine(g, torch.ones(3), 0)
    proj = (g / g.norm(dim=1, keepdim=True)) @ d
    assert proj.tolist() == pytest.approx([proj[0].item()] * 3, rel=1e-4)
    assert sum(imtl.last_weights.values()) == pytest.approx(1.0)
    hybrid = _build(dict(type='IMTL'), names)
    with torch.no_grad():
        hybrid.loss_scale.copy_(torch.tensor([0.5, 0.0, -1.0]))
    out = hybrid.transform_losses([torch.tensor(2.0)] * 3)
    assert [o.item() for o in out] == pytest.approx([2 * math.exp(0.5) - 0.5, 2.0, 2 * math.exp(-1) + 1])


def test_nash_mtl_fixed_point():
    torch.manual_seed(2)
    nash = _build(dict(type='NashMTL'), ['a', 'b', 'c'])
    g = torch.randn(3, 8, dtype=torch.float64) * torch.tensor([[0.1], [1.0], [5.0]], dtype=torch.float64)
    d, head = nash.combine(g, torch.ones(3), 0)
    alpha = torch.tensor([nash.last_weights[k] for k in 'abc'], dtype=torch.float64)
    assert (alpha > 0).all()
    assert (g @ g.t() @ alpha).tolist() == pytest.approx((1 / alpha).tolist(), rel=1e-9)
    assert d.tolist() == pytest.approx((alpha @ g).tolist(), rel=1e-9)
    assert head.tolist() == pytest.approx(alpha.tolist())


def test_aligned_mtl_aligns_components():
    torch.manual_seed(3)
    names = ['a', 'b', 'c']
    g = torch.randn(3, 5, dtype=torch.float64)
    rows = []
    for i, name in enumerate(names):   # one-hot task weights expose each aligned gradient B_i G
        am = _build(dict(type='AlignedMTL', task_weights={n: float(n == name) for n in names}), names)
        rows.append(am.combine(g, torch.ones(3), 0)[0])
    aligned = torch.stack(rows)
    lam_min = torch.linalg.eigvalsh(g @ g.t()).min()
    assert (aligned @ aligned.t()).flatten().tolist() == pytest.approx(
        (lam_min * torch.eye(3, dtype=torch.float64)).flatten().tolist(), abs=1e-9)
    d, _ = _build(dict(type='AlignedMTL'), names).combine(g, torch.ones(3), 0)
    assert d.tolist() == pytest.approx(aligned.sum(0).tolist(), rel=1e-9)


def test_dbmtl_first_step():
    db = _build(dict(type='DBMTL', beta=0.9))
    g = _g([3.0, 0.0], [0.0, 1.0])
    losses = torch.tensor([2.0, 0.5])
    d, head = db.combine(g, losses, 0)
    # h = 0.1 g / L = (0.15, 0), (0, 0.2); both scaled to the largest norm 0.2
    assert d.tolist() == pytest.approx([0.2, 0.2], rel=1e-5)
    assert head.tolist() == pytest.approx([0.5, 2.0], rel=1e-6)
    d, _ = db.combine(g, losses, 1)      # h = 0.19 g / L: same direction, norms 0.285 / 0.38
    assert d.tolist() == pytest.approx([0.38, 0.38], rel=1e-5)


def test_gradnorm_moves_weights_as_documented():
    gn = _build(dict(type='GradNorm', alpha=1.5, lr=0.1))
    g = _g([1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    d, head = gn.combine(g, torch.tensor([1.0, 1.0]), 0)   # records L(0); r = 1 -> on target, no move
    assert gn.loss_weights.tolist() == [1.0, 1.0] and d.tolist() == [1.0, 1.0, 0.0]
    d, head = gn.combine(g, torch.tensor([1.0, 0.5]), 1)
    # L~ = (1, 0.5), r = (4/3, 2/3); G = (1, 1), target = r^1.5 = (1.54, 0.54): sign = (-1, +1)
    # w <- w - 0.1 * sign * |g| = (1.1, 0.9) (sum 2 already). This step still used w = (1, 1).
    assert d.tolist() == [1.0, 1.0, 0.0] and head.tolist() == [1.0, 1.0]
    assert gn.loss_weights.tolist() == pytest.approx([1.1, 0.9])
    d, head = gn.combine(g, torch.tensor([1.0, 0.5]), 2)
    assert d.tolist() == pytest.approx([1.1, 0.9, 0.0]) and head.tolist() == pytest.approx([1.1, 0.9])
    # the slower-training objective (seg) keeps gaining weight
    assert gn.loss_weights[0] > 1.1


def test_rep_grad_only_where_defined():
    for name in ('PCGrad', 'CAGrad', 'GradVac', 'NashMTL', 'DBMTL'):
        with pytest.raises(ValueError, match='rep_grad'):
            WEIGHTINGS.build(dict(type=name, rep_grad=True))
    for name in ('MGDA', 'IMTL', 'AlignedMTL', 'GradNorm'):
        assert WEIGHTINGS.build(dict(type=name, rep_grad=True)).rep_grad
