"""Options that reproduce the reference implementations (LibMTL, the authors' code), each against a direct
re-implementation of the reference or a hand-computed value. test_strategies.py covers the defaults."""
import copy
import math

import pytest
import torch

from jdbench.engine.optimizers import WeightedOptimWrapper
from jdbench.models.objectives import task_objectives
from jdbench.weighting import build_weighting
from .toy import ToyJoint, toy_batch

TWO = ['seg', 'depth']


def _build(cfg, objectives=TWO):
    return build_weighting(cfg, objectives=task_objectives(objectives))


# ------------------------------------------------------------------------------------------------ Nash-MTL
def test_nash_max_norm_is_clip_grad_norm_of_the_shared_update():
    g = torch.tensor([[1.0, 2.0, 0.0, -1.0], [0.5, -1.0, 2.0, 0.0], [-1.0, 0.0, 1.0, 3.0]]).double()
    objs = ['a', 'b', 'c']
    d_paper, head_paper = _build(dict(type='NashMTL'), objs).combine(g, torch.ones(3), 0)
    assert d_paper.norm().item() == pytest.approx(math.sqrt(3), rel=1e-10)          # |G a| = sqrt(K)
    nash = _build(dict(type='NashMTL', max_norm=1.0), objs)
    d, head = nash.combine(g, torch.ones(3), 0)
    # the reference: backward of sum_k a_k L_k, then torch's clip_grad_norm_ on the shared parameters
    p = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    p.grad = head_paper @ g
    torch.nn.utils.clip_grad_norm_([p], max_norm=1.0)
    torch.testing.assert_close(d, p.grad, rtol=1e-12, atol=1e-15)
    assert d.norm().item() == pytest.approx(1.0, rel=1e-5)
    torch.testing.assert_close(d, d_paper / math.sqrt(3), rtol=1e-5, atol=0)         # sqrt(K) shorter
    torch.testing.assert_close(head, head_paper)                                     # heads keep a
    logged = [nash.last_weights[o] for o in objs]
    assert logged == pytest.approx((head_paper / math.sqrt(3)).tolist(), rel=1e-5)   # clipped coefficients
    with pytest.raises(ValueError, match='max_norm'):
        _build(dict(type='NashMTL', max_norm=-1.0))


def test_nash_max_norm_on_the_toy_clips_only_the_shared_parameters():
    torch.manual_seed(0)
    model = ToyJoint(weighting=dict(type='NashMTL', max_norm=0.1), seed=2)
    ref = copy.deepcopy(model)
    batch = toy_batch(seed=5)
    losses = ref(**batch, mode='loss')
    obj = [losses['seg.loss_mse'], losses['depth.loss_l1']]
    shared = list(ref.backbone.parameters())
    heads = list(ref.heads.parameters())
    per = [torch.cat([x.reshape(-1) for x in torch.autograd.grad(o, shared, retain_graph=True)]) for o in obj]
    g = torch.stack(per).double()
    a = _build(dict(type='NashMTL')).combine(g, torch.ones(2), 0)[1].float()       # the bargaining a
    # reference (LibMTL): backward of sum_k a_k L_k, clip_grad_norm_(shared, 0.1), SGD step with lr 1
    total = a[0] * obj[0] + a[1] * obj[1]
    total.backward()
    clipped = torch.nn.utils.clip_grad_norm_(shared, max_norm=0.1)
    assert clipped > 0.1, 'the toy update must be long enough to be clipped'
    ow = WeightedOptimWrapper(torch.optim.SGD(model.parameters(), lr=1.0))
    model.train_step(batch, ow)
    for p0, p in zip(shared + heads, list(model.backbone.parameters()) + list(model.heads.parameters())):
        torch.testing.assert_close(p0.detach() - p.detach(), p0.grad, rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------------------------------------------ PCGrad
def _pcgrad_reference(g, orders, self_projection):
    """LibMTL's / the authors' loop on the vectors: for each i, j in the given order (j = i skipped unless
    self_projection), project g_i^PC off the original g_j when they conflict."""
    pc = g.clone()
    for i in range(len(g)):
        for j in orders[i]:
            if j == i and not self_projection:
                continue
            dot = pc[i] @ g[j]
            if dot < 0:
                pc[i] = pc[i] - dot / (g[j] @ g[j]) * g[j]
    return pc.sum(0)


def test_pcgrad_self_projection_against_reference():
    # g3 conflicts with g1 and g2; projected off both, it turns against itself (g3^PC . g3 < 0) whenever
    # g3 comes last in its own order: only the self-projecting variant then projects it once more
    g = torch.tensor([[1.0, 4.0], [-2.0, 3.0], [2.0, -4.0]], dtype=torch.float64)
    objs = ['a', 'b', 'c']
    paper = _build(dict(type='PCGrad', seed=7), objs)
    libmtl = _build(dict(type='PCGrad', seed=7, self_projection=True), objs)
    differing = 0
    for it in range(12):
        gen = paper._generator(7, it)        # the strategy's order: one permutation per i, from (seed, it)
        orders = [torch.randperm(3, generator=gen).tolist() for _ in range(3)]
        d_paper, _ = paper.combine(g, torch.ones(3), it)
        d_self, _ = libmtl.combine(g, torch.ones(3), it)
        torch.testing.assert_close(d_paper, _pcgrad_reference(g, orders, False))
        torch.testing.assert_close(d_self, _pcgrad_reference(g, orders, True))
        if orders[2][-1] == 2:
            differing += 1
            assert (d_self - d_paper).abs().max() > 0.1
        else:
            torch.testing.assert_close(d_self, d_paper)
    assert differing > 0, 'no iteration put g3 last in its own order: pick another seed'
    # one order by hand: i = 3 sees g1, g2, then g3
    pc3 = g[2] + 14 / 17 * g[0]                          # g3 . g1 = -14, |g1|^2 = 17
    pc3 = pc3 - (pc3 @ g[1]) / 13 * g[1]                 # |g2|^2 = 13
    assert pc3 @ g[2] < 0                                # turned against g3
    in_order = [[0, 1, 2]] * 3
    assert not torch.allclose(_pcgrad_reference(g, in_order, True), _pcgrad_reference(g, in_order, False))


# ------------------------------------------------------------------------------------------------ UW
def test_uw_factor_half_is_libmtl():
    uw = _build(dict(type='UW', factor=0.5, init_log_var=-0.5))
    losses = {'seg': torch.tensor(2.0), 'depth': torch.tensor(0.5)}
    w = uw.weights(losses, 0)
    total = sum(w[k] * losses[k] for k in TWO) + uw.regularizer()
    # LibMTL: sum_k L_k / (2 exp(s_k)) + s_k / 2, s = -0.5
    s = -0.5
    assert total.item() == pytest.approx(2.5 / (2 * math.exp(s)) + 2 * s / 2, rel=1e-6)
    total.backward()
    expected = [0.5 - 2.0 / (2 * math.exp(s)), 0.5 - 0.5 / (2 * math.exp(s))]    # d/ds = 1/2 - L / (2 e^s)
    assert uw.log_vars.grad.tolist() == pytest.approx(expected, rel=1e-6)
    assert uw.last_weights['seg'] == pytest.approx(1 / (2 * math.exp(s)), rel=1e-6)   # LibMTL's logged weight
    with pytest.raises(ValueError, match='factor'):
        _build(dict(type='UW', factor=0.0))


# ------------------------------------------------------------------------------------------------ GradNorm
G2 = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]], dtype=torch.float64)
LOSSES = [torch.tensor(v) for v in ([1.0, 1.0], [1.0, 0.5], [0.8, 0.6], [0.9, 0.2])]


def _libmtl_gradnorm(grads, losses_seq, optimizer_fn, alpha=1.5):
    """LibMTL's GradNorm on the vectors: w = K softmax(s), s a parameter stepped by a torch optimizer on
    L_grad = sum_k |w_k |g_k| - mean(G) r_k^alpha| (target detached); returns the weights used at each
    step."""
    k = len(grads)
    s = torch.zeros(k, dtype=torch.float64, requires_grad=True)
    opt = optimizer_fn([s])
    used, l0 = [], losses_seq[0].double()
    for losses in losses_seq:
        w = k * torch.softmax(s, 0)
        g_per = (w[:, None] * grads).norm(dim=1)
        ratio = losses.double() / l0
        r = ratio / ratio.mean()
        l_grad = (g_per - (g_per.mean() * r**alpha).detach()).abs().sum()
        opt.zero_grad()
        l_grad.backward()
        opt.step()
        used.append(w.detach())
    return used


@pytest.mark.parametrize('optimizer,kw,make', [
    ('sgd', dict(lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    ('adam', dict(lr=0.05, weight_decay=1e-2), lambda p: torch.optim.Adam(p, lr=0.05, weight_decay=1e-2)),
])
def test_gradnorm_libmtl_rule_against_reference(optimizer, kw, make):
    gn = _build(dict(type='GradNorm', rule='libmtl', optimizer=optimizer, **kw))
    expected = _libmtl_gradnorm(G2, LOSSES, make)
    for it, (losses, w_ref) in enumerate(zip(LOSSES, expected)):
        d, head = gn.combine(G2, losses, it)
        torch.testing.assert_close(head, w_ref, rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(d, w_ref @ G2, rtol=1e-6, atol=1e-7)
        assert float(head.sum()) == pytest.approx(2.0)               # K softmax: the sum stays K
    assert 'logits' in gn.state_dict() and 'loss_weights' not in gn.state_dict()


def test_gradnorm_libmtl_first_step_by_hand():
    gn = _build(dict(type='GradNorm', rule='libmtl', lr=0.1))
    g = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    gn.combine(g, torch.tensor([1.0, 1.0]), 0)      # L(0); r = 1, G = target: sign 0, no move
    gn.combine(g, torch.tensor([1.0, 0.5]), 1)
    # r = (4/3, 2/3): dL/dw = sign(1 - (1.54, 0.54)) = (-1, 1); z = (1/2, 1/2):
    # dL/ds = 2 z (u - z.u) = (-1, 1)
    # s = (0.1, -0.1), w = 2 softmax(s) = (1 + tanh 0.1, 1 - tanh 0.1)
    assert gn.logits.tolist() == pytest.approx([0.1, -0.1])
    _, head = gn.combine(g, torch.tensor([1.0, 0.5]), 2)
    assert head.tolist() == pytest.approx([1 + math.tanh(0.1), 1 - math.tanh(0.1)])


def test_gradnorm_warmup_and_unweighted_heads():
    gn = _build(dict(type='GradNorm', lr=0.1, warmup_iters=2, weight_heads=False))
    g = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    for it, losses in enumerate([[2.0, 1.0], [1.0, 3.0]]):          # warm-up: w = 1, no move
        d, head = gn.combine(g, torch.tensor(losses), it)
        assert d.tolist() == [1.0, 1.0] and head.tolist() == [1.0, 1.0]
    assert gn.initial_losses.tolist() == [1.5, 2.0] and bool(gn.initialized)   # L(0): the mean of the warm-up
    d, head = gn.combine(g, torch.tensor([1.5, 1.0]), 2)
    # L~ = (1, 0.5): as in test_gradnorm_moves_weights_as_documented, w <- (1.1, 0.9); this step used w = 1
    assert d.tolist() == [1.0, 1.0] and gn.loss_weights.tolist() == pytest.approx([1.1, 0.9])
    d, head = gn.combine(g, torch.tensor([1.5, 1.0]), 3)
    assert d.tolist() == pytest.approx([1.1, 0.9]) and head.tolist() == [1.0, 1.0]   # heads: plain L_k


def test_gradnorm_rejects_unknown_options():
    with pytest.raises(ValueError, match='rule'):
        _build(dict(type='GradNorm', rule='other'))
    with pytest.raises(ValueError, match='optimizer'):
        _build(dict(type='GradNorm', optimizer='rmsprop'))
    with pytest.raises(ValueError, match='warmup_iters'):
        _build(dict(type='GradNorm', warmup_iters=-1))
