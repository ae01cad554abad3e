"""Domain Adaptive KD (issue 13): the multi-level segmentor, AdaptSegNet's discriminator and adversarial terms,
the DAKD distiller's loss terms (known answers), its two optimizers and what training must never touch."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmseg.models.utils import resize

from jdbench.models.domain_adaptation import (PARADIGMS, SOURCE_LABEL, TARGET_LABEL, AdversarialLoss,
                                              DAKDKLLoss, DAKDMSELoss, FCDiscriminator, PseudoLabelCELoss)
from jdbench.engine.optimizers import MultiOptimWrapperConstructor
from jdbench.registry import MODELS
from test_dakd_common import (NUM_CLASSES, build, optim_wrappers, params, preprocess, same, save_teacher,
                              segmentor, stream, teacher_cfg, two_streams)


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp('dakd') / 'teacher.pth'
    save_teacher(path)
    return str(path)


def up(x, ref):
    """``x`` resized bilinearly to ``ref``'s spatial size (independent of the code under test)."""
    return F.interpolate(x, size=ref.shape[2:], mode='bilinear', align_corners=False)


# ------------------------------------------------------------------------------------------- loss functions
def test_true_kl_matches_closed_form():
    # one pixel, two classes: teacher p = softmax(0, ln 3) = (1/4, 3/4), student q = (1/2, 1/2)
    s = torch.zeros(1, 2, 1, 1)
    t = torch.tensor([0., math.log(3.)]).view(1, 2, 1, 1)
    kl = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    assert DAKDKLLoss(reduction='pixel')(s, t).item() == pytest.approx(kl, rel=1e-6)
    assert DAKDKLLoss()(s, t).item() == pytest.approx(kl / 2, rel=1e-6)       # 'mean' over the C elements
    # temperature 2: p = softmax(0, ln 3 / 2) = (1, √3) / (1 + √3), times τ² = 4
    p = [1 / (1 + math.sqrt(3)), math.sqrt(3) / (1 + math.sqrt(3))]
    kl2 = sum(pi * math.log(pi / 0.5) for pi in p)
    assert DAKDKLLoss(temperature=2., reduction='pixel')(s, t).item() == pytest.approx(4 * kl2, rel=1e-6)
    # identical distributions: exactly zero
    x = torch.randn(2, NUM_CLASSES, 3, 4)
    assert DAKDKLLoss()(x, x.clone()).abs().item() < 1e-7


def test_code_kl_quirk_matches_the_code_under_both_pytorch_generations():
    s = torch.tensor([0., 0.]).view(1, 2, 1, 1).requires_grad_()
    t = torch.tensor([0., math.log(3.)]).view(1, 2, 1, 1)
    log_p = [math.log(0.25), math.log(0.75)]      # the teacher's log-probabilities, the code's "target"
    log_q = [math.log(0.5), math.log(0.5)]
    # PyTorch < 1.11 (the code's time): where(target > 0, target (log target - input), 0), mean; gradient
    # -target/N where target > 0. Log-probabilities are never > 0: value and gradient are exactly 0.
    legacy = DAKDKLLoss(mode='code')(s, t)
    legacy.backward()
    assert legacy.item() == 0.0 and torch.equal(s.grad, torch.zeros_like(s))
    # PyTorch >= 1.11: the same call gives NaN, with gradient -target/N w.r.t. the student's log-probabilities
    s.grad = None
    s_logp = F.log_softmax(s, dim=1)
    nan = nn.KLDivLoss()(s_logp, F.log_softmax(t, dim=1))
    assert torch.isnan(nan)
    (ref_grad, ) = torch.autograd.grad(nan, s)
    modern = DAKDKLLoss(mode='code_torch111')(s, t)
    assert modern.item() == pytest.approx(-(log_p[0] * log_q[0] + log_p[1] * log_q[1]) / 2, rel=1e-6)
    (grad, ) = torch.autograd.grad(modern, s)
    torch.testing.assert_close(grad, ref_grad)
    # the same on a random map (several pixels and classes)
    s = torch.randn(2, NUM_CLASSES, 3, 4, requires_grad=True)
    t = torch.randn(2, NUM_CLASSES, 3, 4)
    ref = nn.KLDivLoss()(F.log_softmax(s, 1), F.log_softmax(t, 1))
    torch.testing.assert_close(torch.autograd.grad(DAKDKLLoss(mode='code_torch111')(s, t), s)[0],
                               torch.autograd.grad(ref, s)[0])
    with pytest.raises(ValueError, match='no temperature'):
        DAKDKLLoss(mode='code', temperature=2.)


def test_pseudo_label_ce_is_ce_on_the_teachers_argmax():
    # pixel 1: teacher argmax 1, student softmax_1 = 3/5; pixel 2: teacher argmax 0, student softmax_0 = 4/6
    s = torch.tensor([[0., math.log(4.)], [math.log(3.), 0.], [0., 0.]]).view(1, 3, 1, 2)
    t = torch.tensor([[1., 5.], [3., 0.], [2., 0.]]).view(1, 3, 1, 2)
    expected = (-math.log(3 / 5) - math.log(4 / 6)) / 2
    assert PseudoLabelCELoss()(s, t).item() == pytest.approx(expected, rel=1e-6)
    s, t = torch.randn(2, NUM_CLASSES, 6, 7), torch.randn(2, NUM_CLASSES, 6, 7)
    torch.testing.assert_close(PseudoLabelCELoss()(s, t), F.cross_entropy(s, t.argmax(1)))
    # the threshold drops the teacher's unsure pixels (here: pixel 2, confidence 1/2)
    t = torch.tensor([[9., 0.], [0., 0.], [0., 0.]]).view(1, 3, 1, 2)
    conf = F.softmax(t, 1).amax(1)
    assert conf[0, 0, 1] < 0.5 < conf[0, 0, 0]
    assert PseudoLabelCELoss(threshold=0.5)(s[:1, :3, :1, :2], t).item() == pytest.approx(
        F.cross_entropy(s[:1, :3, :1, :1], t[:, :, :, :1].argmax(1)).item(), rel=1e-6)


def test_mse_on_log_probabilities():
    s, t = torch.randn(2, NUM_CLASSES, 3, 4), torch.randn(2, NUM_CLASSES, 3, 4)
    ref = ((F.log_softmax(s, 1) - F.log_softmax(t, 1))**2).sum() / s.numel()
    torch.testing.assert_close(DAKDMSELoss()(s, t), ref)
    torch.testing.assert_close(DAKDMSELoss(space='logit')(s, t), ((s - t)**2).mean())


def test_log_probability_paths_equal_the_logit_paths():
    """DAKD computes each level's log-probabilities once and hands them to every term (from_log_probs)."""
    s, t = torch.randn(2, NUM_CLASSES, 6, 7), torch.randn(2, NUM_CLASSES, 6, 7) * 3
    lq, lp = F.log_softmax(s, 1), F.log_softmax(t, 1)
    for loss in (DAKDKLLoss(), DAKDKLLoss(reduction='pixel'), DAKDKLLoss(mode='code_torch111'), DAKDMSELoss(),
                 DAKDMSELoss(space='prob'), PseudoLabelCELoss(), PseudoLabelCELoss(threshold=0.6)):
        assert loss.takes_log_probs
        torch.testing.assert_close(loss.from_log_probs(lq, lp, teacher=t), loss(s, t))
    assert not DAKDKLLoss(temperature=2.).takes_log_probs and not DAKDMSELoss(space='logit').takes_log_probs


# ------------------------------------------------------------------------------------------- the networks
def test_fc_discriminator_is_adaptsegnets():
    d = FCDiscriminator(in_channels=19)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(19, 64), (64, 128), (128, 256), (256, 512),
                                                                (512, 1)]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) and c.padding == (1, 1) for c in convs)
    assert [m.negative_slope for m in d.modules() if isinstance(m, nn.LeakyReLU)] == [0.2] * 4
    assert d(torch.rand(2, 19, 64, 96)).shape == (2, 1, 2, 3)
    with pytest.raises(ValueError, match='smaller than 32'):
        d(torch.rand(1, 19, 16, 64))


def test_adversarial_loss_forms():
    d = torch.tensor([[-1.0, 0.5], [2.0, 0.0]]).view(1, 1, 2, 2)
    softplus = [math.log1p(math.exp(v)) for v in (-1.0, 0.5, 2.0, 0.0)]
    vals = (-1.0, 0.5, 2.0, 0.0)
    assert AdversarialLoss()(d, SOURCE_LABEL).item() == pytest.approx(sum(softplus) / 4, rel=1e-6)
    assert AdversarialLoss()(d, TARGET_LABEL).item() == pytest.approx(
        sum(sp - v for sp, v in zip(softplus, vals)) / 4, rel=1e-6)
    assert AdversarialLoss('lsgan')(d, TARGET_LABEL).item() == pytest.approx(
        sum((v - 1)**2 for v in vals) / 4, rel=1e-6)
    assert (SOURCE_LABEL, TARGET_LABEL) == (0.0, 1.0)


def test_aspp_classifier_head_sums_its_dilated_branches():
    head = MODELS.build(dict(type='ASPPClassifierHead', in_channels=8, dilations=(6, 12), num_classes=3,
                             in_index=0))
    x = torch.randn(1, 8, 20, 20)
    convs = head.conv_seg.convs
    ref = sum(F.conv2d(x, c.weight, c.bias, padding=d, dilation=d) for c, d in zip(convs, (6, 12)))
    torch.testing.assert_close(head([x]), ref)


def test_multi_level_segmentor_levels_losses_and_prediction():
    torch.manual_seed(0)
    model = MODELS.build(segmentor(aux_weight=0.3))
    assert model.levels == ('aux', 'final')
    data = model.data_preprocessor(stream(), True)
    levels = model.forward_levels(data['inputs'])
    assert levels['aux'].shape == (2, NUM_CLASSES, 4, 4) and levels['final'].shape == (2, NUM_CLASSES, 16, 16)
    losses = model.level_losses(levels, data['data_samples'])
    labels = torch.stack([s.gt_sem_seg.data[0] for s in data['data_samples']])
    torch.testing.assert_close(losses['seg.loss_ce'], F.cross_entropy(up(levels['final'], labels[:, None]),
                                                                      labels))
    torch.testing.assert_close(losses['seg.aux.loss_ce'],
                               0.3 * F.cross_entropy(up(levels['aux'], labels[:, None]), labels))
    # prediction: the final head only (changing the aux head changes nothing), as the plain student
    model.eval()
    before = model.predict(data['inputs'])[0].pred_sem_seg.data
    with torch.no_grad():
        model.aux_head.conv_seg.weight.add_(1.0)
    after = model.predict(data['inputs'])
    assert torch.equal(before, after[0].pred_sem_seg.data)
    torch.testing.assert_close(after[0].seg_logits.data[None],
                               up(model.forward_levels(data['inputs'])['final'], labels[:, None])[:1])
    assert set(model._forward(data['inputs'])) == {'seg'}
    single = MODELS.build(segmentor(aux=False))
    assert single.levels == ('final', ) and set(single.loss(data['inputs'], data['data_samples'])) == {
        'seg.loss_ce', 'seg.acc_seg'}


# ------------------------------------------------------------------------------------------- AdaptSegNet
@MODELS.register_module(force=True)
class FirstChannelDiscriminator(nn.Module):
    """A stand-in discriminator: its logit is ``scale ·`` the probability of class 0 (a known function)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(3.0))

    def forward(self, x):
        return self.scale * x[:, :1]


@pytest.mark.parametrize('gan', ['vanilla', 'lsgan'])
def test_adversarial_terms_use_source_0_and_target_1(gan):
    model = build('AdaptSegNet', gan=gan, discriminator=dict(
        aux=dict(type='FirstChannelDiscriminator'), final=dict(type='FirstChannelDiscriminator')))
    data = preprocess(model, two_streams())
    losses = model(**data, mode='loss')
    d_losses = model.discriminator_losses()
    x_s, x_t = data['source']['inputs'], data['target']['inputs']
    src, tgt = model.student.forward_levels(x_s), model.student.forward_levels(x_t)   # train mode: same outputs
    if gan == 'vanilla':
        def to(d, y):
            return (F.softplus(d) - y * d).mean()          # BCE with logits, written out
    else:
        def to(d, y):
            return ((d - y)**2).mean()
    for level, lam in (('aux', 0.0002), ('final', 0.001)):
        d_t = 3.0 * F.softmax(up(tgt[level], x_t), 1)[:, :1]
        d_s = 3.0 * F.softmax(up(src[level], x_s), 1)[:, :1]
        torch.testing.assert_close(losses[f'adv.loss_{level}'], lam * to(d_t, 0.0))        # target -> "source"
        torch.testing.assert_close(d_losses[f'disc.loss_{level}'], 0.5 * (to(d_s, 0.0) + to(d_t, 1.0)))
        swapped = 0.5 * (to(d_s, 1.0) + to(d_t, 0.0))
        assert abs(swapped.item() - d_losses[f'disc.loss_{level}'].item()) > 1e-4


def test_generator_step_leaves_discriminators_and_discriminator_step_leaves_student(ckpt):
    for model in (build('AdaptSegNet'), build('DAKD', ckpt)):
        ow = optim_wrappers(model)
        student_w, disc_w = ow['student'], ow['discriminator']
        update_weighted, update_params = student_w.update_weighted, disc_w.update_params
        records = {}

        def spy_student(m, losses, **kw):
            disc_before, student_before = params(model.discriminator), params(model.student)
            out = update_weighted(m, losses, **kw)
            records['disc_kept'] = same(disc_before, params(model.discriminator))
            records['disc_no_grad'] = all(p.grad is None for p in model.discriminator.parameters())
            records['student_moved'] = not same(student_before, params(model.student))
            return out

        def spy_disc(loss, **kw):
            student_before, disc_before = params(model.student), params(model.discriminator)
            assert all(p.grad is None or not p.grad.any() for p in model.student.parameters())
            update_params(loss, **kw)
            records['student_kept'] = same(student_before, params(model.student))
            records['student_no_grad'] = all(p.grad is None or not p.grad.any()
                                             for p in model.student.parameters())
            records['disc_moved'] = not same(disc_before, params(model.discriminator))

        student_w.update_weighted, disc_w.update_params = spy_student, spy_disc
        log_vars = model.train_step(two_streams(), ow)
        assert records == dict(disc_kept=True, disc_no_grad=True, student_moved=True, student_kept=True,
                               student_no_grad=True, disc_moved=True), type(model).__name__
        assert {'disc.loss_aux', 'disc.loss_final', 'adv.loss_aux', 'adv.loss_final', 'w.adv'} <= set(log_vars)
        assert all(p.requires_grad for p in model.discriminator.parameters())
        held = {k: {id(p) for g in w.optimizer.param_groups for p in g['params']} for k, w in ow.items()}
        assert held['discriminator'] == {id(p) for p in model.discriminator.parameters()}
        assert held['student'] == {id(p) for p in model.student.parameters()}


def test_discriminator_for_a_level_the_model_does_not_output():
    with pytest.raises(ValueError, match=r"level\(s\) \['aux'\], which the student does not output.*\('final',\)"):
        build('AdaptSegNet', student=segmentor(aux=False), discriminator=dict(aux=dict(type='FCDiscriminator')))
    with pytest.raises(ValueError, match=r"\['intermediate'\], which the student does not output"):
        build('AdaptSegNet', discriminator=dict(intermediate=dict(type='FCDiscriminator')))
    with pytest.raises(ValueError, match='no weight for the discriminator level'):
        build('AdaptSegNet', lambda_adv=dict(final=0.001))
    # a single-level student gets a single discriminator by default
    model = build('AdaptSegNet', student=segmentor(aux=False))
    assert list(model.discriminator) == ['final']


def test_optimizer_entries_and_plain_batches_get_clear_errors():
    model = build('AdaptSegNet')
    ow = optim_wrappers(model)
    with pytest.raises(TypeError, match='own optimizer'):
        model.train_step(two_streams(), ow['student'])
    with pytest.raises(ValueError, match='MultiStreamDataset'):
        model(**model.data_preprocessor(stream(), True), mode='loss')


# ------------------------------------------------------------------------------------------- DAKD terms
def test_dakd_terms_against_an_independent_computation(ckpt):
    model = build('DAKD', ckpt, target_distill=0.5, lambda_kl=0.3, lambda_mse=0.02, lambda_target_ce=0.7,
                  lambda_seg=0.2)
    data = preprocess(model, two_streams())
    losses = model(**data, mode='loss')
    expected_keys = {f'kd.seg.{d}.{t}' for d in ('source', 'target')
                     for t in ('loss_kl', 'loss_kl_aux', 'loss_mse_aux', 'loss_pseudo_ce')}
    assert {k for k in losses if k.startswith('kd.')} == expected_keys
    for domain, w in (('source', 1.0), ('target', 0.5)):
        x = data[domain]['inputs']
        s = model.student.forward_levels(x)
        with torch.no_grad():
            t = model.teacher.model.forward_levels(model.teacher.adapt_inputs(x))
        s = {k: up(v, x) for k, v in s.items()}
        t = {k: up(v, x) for k, v in t.items()}
        p = {k: F.softmax(v, 1) for k, v in t.items()}
        kl = {k: (p[k] * (p[k].log() - F.log_softmax(s[k], 1))).mean() for k in s}
        mse = ((F.log_softmax(s['aux'], 1) - F.log_softmax(t['aux'], 1))**2).mean()
        pseudo = F.cross_entropy(s['final'], t['final'].argmax(1))
        k = f'kd.seg.{domain}.'
        torch.testing.assert_close(losses[k + 'loss_kl'], w * 0.3 * kl['final'], rtol=1e-4, atol=1e-7)
        torch.testing.assert_close(losses[k + 'loss_kl_aux'], w * 0.3 * 0.2 * kl['aux'], rtol=1e-4, atol=1e-7)
        torch.testing.assert_close(losses[k + 'loss_mse_aux'], w * 0.02 * mse, rtol=1e-4, atol=1e-7)
        torch.testing.assert_close(losses[k + 'loss_pseudo_ce'], w * 0.7 * pseudo, rtol=1e-5, atol=1e-7)
    # the code's KL call: exactly zero (see DAKDKLLoss)
    code = build('DAKD', ckpt, kl_loss=dict(type='DAKDKLLoss', mode='code'))
    losses = code(**preprocess(code, two_streams()), mode='loss')
    assert losses['kd.seg.target.loss_kl'].item() == 0.0 and losses['kd.seg.source.loss_kl_aux'].item() == 0.0


def test_dakd_terms_at_the_output_resolution_and_with_a_temperature(ckpt):
    """resolution='output': the teacher is resized to each student level; a temperature takes the logit path."""
    model = build('DAKD', ckpt, resolution='output',
                  discriminator=dict(aux=None, final=dict(type='FCDiscriminator')),
                  kl_loss=dict(type='DAKDKLLoss', temperature=2.0, reduction='pixel'))
    data = preprocess(model, two_streams(h=128, w=128))
    losses = model(**data, mode='loss')
    x = data['target']['inputs']
    s = model.student.forward_levels(x)
    with torch.no_grad():
        t = model.teacher.model.forward_levels(model.teacher.adapt_inputs(x))
    assert s['final'].shape[2:] == (32, 32) and t['final'].shape[2:] == (32, 32)
    t_aux = up(t['aux'], s['aux'])
    assert s['aux'].shape[2:] == (8, 8) and t['aux'].shape[2:] == (8, 8)
    p = F.softmax(t['final'] / 2, 1)
    kl = 4 * (p * (p.log() - F.log_softmax(s['final'] / 2, 1))).sum(1).mean()
    torch.testing.assert_close(losses['kd.seg.target.loss_kl'], 0.1 * kl, rtol=1e-4, atol=1e-7)
    mse = ((F.log_softmax(s['aux'], 1) - F.log_softmax(t_aux, 1))**2).mean()
    torch.testing.assert_close(losses['kd.seg.target.loss_mse_aux'], 0.01 * mse, rtol=1e-4, atol=1e-8)
    assert set(k for k in losses if k.startswith('adv.')) == {'adv.loss_final'}


def test_distill_resolution_output_keeps_the_adaptation_at_the_input(ckpt):
    """distill_resolution='output': the KD terms at each student level's size (the teacher resized to it), while
    the source CE and the adversarial terms stay those of resolution='input' (the default's, same weights)."""
    torch.manual_seed(0)
    low = build('DAKD', ckpt, distill_resolution='output')
    torch.manual_seed(0)
    full = build('DAKD', ckpt)
    assert low.distill_resolution == 'output' and full.distill_resolution == 'input'
    full.load_state_dict(low.state_dict())
    data = preprocess(low, two_streams(h=128, w=128))
    losses, ref = low(**data, mode='loss'), full(**data, mode='loss')
    for key in ('seg.loss_ce', 'adv.loss_aux', 'adv.loss_final'):
        assert key in ref and torch.equal(losses[key], ref[key])
    for domain in ('source', 'target'):
        x = data[domain]['inputs']
        s = low.student.forward_levels(x)
        with torch.no_grad():
            t = low.teacher.model.forward_levels(low.teacher.adapt_inputs(x))
        assert s['final'].shape[2:] == (32, 32) and s['aux'].shape[2:] == (8, 8)
        t = {k: up(v, s[k]) for k, v in t.items()}
        p = {k: F.softmax(v, 1) for k, v in t.items()}
        kl = {k: (p[k] * (p[k].log() - F.log_softmax(s[k], 1))).mean() for k in s}
        k = f'kd.seg.{domain}.'
        torch.testing.assert_close(losses[k + 'loss_kl'], 0.1 * kl['final'], rtol=1e-4, atol=1e-7)
        torch.testing.assert_close(losses[k + 'loss_kl_aux'], 0.1 * 0.1 * kl['aux'], rtol=1e-4, atol=1e-7)
        torch.testing.assert_close(losses[k + 'loss_pseudo_ce'], F.cross_entropy(s['final'], t['final'].argmax(1)),
                                   rtol=1e-5, atol=1e-7)
        assert not torch.allclose(losses[k + 'loss_kl'], ref[k + 'loss_kl'])  # not the input-resolution terms
    with pytest.raises(ValueError, match="distill_resolution must be None or one of \\('input', 'output'\\)"):
        build('DAKD', ckpt, distill_resolution='half')


@pytest.mark.parametrize('paradigm', list(PARADIGMS))
def test_paradigms_switch_levels_and_domains(ckpt, paradigm):
    model = build('DAKD', ckpt, paradigm=paradigm)
    calls = []
    forward_levels = model.teacher.forward_levels
    model.teacher.forward_levels = lambda x: calls.append(x.shape) or forward_levels(x)
    losses = model(**preprocess(model, two_streams()), mode='loss')
    level, domain = paradigm.split('_')
    terms = ('loss_kl_aux', 'loss_mse_aux') if level == 'feature' else ('loss_kl', 'loss_pseudo_ce')
    assert {k for k in losses if k.startswith('kd.')} == {f'kd.seg.{domain}.{t}' for t in terms}
    assert len(calls) == 1                    # the teacher runs on the distilled domain only
    assert [o.name for o in model.objectives()] == ['seg', 'adv', 'kd.seg']


def test_switch_errors(ckpt):
    with pytest.raises(ValueError, match='unknown paradigm'):
        build('DAKD', ckpt, paradigm='output_both')
    with pytest.raises(ValueError, match='either the paradigm or levels/domains'):
        build('DAKD', ckpt, paradigm='output_target', domains=('source', ))
    with pytest.raises(ValueError, match="'feature' reads the 'aux' output, which the student does not give"):
        build('DAKD', ckpt, student=segmentor(aux=False), paradigm='feature_target')
    # nothing to distil: no kd objective, the model still trains (AdaptSegNet's terms)
    model = build('DAKD', ckpt, domains=('target', ), target_distill=0.0)
    assert [o.name for o in model.objectives()] == ['seg', 'adv']
    model.train_step(two_streams(), optim_wrappers(model))


def test_teacher_student_class_mismatch(tmp_path):
    path = tmp_path / 'teacher7.pth'
    save_teacher(path, num_classes=7)
    with pytest.raises(ValueError, match='class-count mismatch: the teacher .* predicts 7 classes, the student 5'):
        build('DAKD', teachers=dict(seg=teacher_cfg(path, num_classes=7)))
    with pytest.raises(ValueError, match='one segmentation teacher named after the student task'):
        build('DAKD', teachers=dict(depth=teacher_cfg(path)))


def test_teacher_unchanged_by_training(ckpt):
    model = build('DAKD', ckpt)
    saved = torch.load(ckpt, weights_only=True)['state_dict']
    ow = optim_wrappers(model)
    model.train()
    student_before = params(model.student)
    for seed in range(3):
        model.train_step(two_streams(seed), ow)
    state = model.teacher.model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in saved.items())
    assert any('running_mean' in k for k in saved) and not model.teacher.training
    assert not any(p.requires_grad for p in model.teacher.parameters())
    assert not same(student_before, params(model.student))
    # not in the optimizer, not in the model's state_dict
    in_optim = {id(p) for w in ow.values() for g in w.optimizer.param_groups for p in g['params']}
    assert not any(id(p) in in_optim for p in model.teacher.parameters())
    assert not any('teacher' in k for k in model.state_dict())


@pytest.mark.parametrize('kind', ['AdaptSegNet', 'DAKD'])
def test_training_never_reads_target_labels(ckpt, kind):
    def run(target_labels):
        model = build(kind, ckpt, seed=3)
        ow = optim_wrappers(model)
        for i in range(3):
            batch = two_streams(seed=i)
            if target_labels == 'corrupt':
                for s in batch['target']['data_samples']:
                    s.gt_sem_seg.data = (s.gt_sem_seg.data + 1 + i) % 255
            elif target_labels == 'none':
                batch['target'] = stream(seed=i + 100, labels=False)
            model.train_step(batch, ow)
        return {**params(model), **{f'buffer.{k}': v.clone() for k, v in model.named_buffers()}}

    clean = run('clean')
    for other in ('corrupt', 'none'):
        trained = run(other)
        assert clean.keys() == trained.keys()
        assert all(torch.equal(clean[k], trained[k]) for k in clean), other
    # the source labels are read: corrupting them changes the weights
    def one_step(corrupt_source):
        model = build(kind, ckpt, seed=3)
        batch = two_streams(seed=0)
        if corrupt_source:
            for s in batch['source']['data_samples']:
                s.gt_sem_seg.data = (s.gt_sem_seg.data + 1) % NUM_CLASSES
        model.train_step(batch, optim_wrappers(model))
        return params(model.student)

    assert not same(one_step(False), one_step(True))


def test_export_is_the_student_and_the_teacher_reads_an_adaptsegnet_run(tmp_path, ckpt):
    # an adapted "teacher" run: AdaptSegNet trained one step, its export loads into the plain segmentor
    asn = build('AdaptSegNet', student=segmentor(base=16))
    asn.train_step(two_streams(), optim_wrappers(asn))
    exported = asn.export_state_dict()
    plain = MODELS.build(segmentor(base=16))
    assert set(exported) == set(plain.state_dict())
    torch.save({'state_dict': exported}, str(tmp_path / 'final.pth'))
    cfg_path = tmp_path / 'adaptsegnet_teacher.py'
    Config(dict(model=dict(type='AdaptSegNet', student=segmentor(base=16)))).dump(str(cfg_path))
    model = build('DAKD', teachers=dict(seg=dict(config=str(cfg_path), checkpoint=str(tmp_path / 'final.pth'))))
    assert model.teacher.config_path == str(cfg_path) and model.teacher.levels == ('aux', 'final')
    asn.eval()
    x = model.data_preprocessor(stream(), False)['inputs']
    with torch.no_grad():
        ref = asn.student.forward_levels(x)
    got = model.teacher.forward_levels(x)
    for level in ('aux', 'final'):
        torch.testing.assert_close(got[level], ref[level])
    # the DAKD student exports alone and predicts as the plain student
    dakd = build('DAKD', ckpt)
    dakd.train_step(two_streams(), optim_wrappers(dakd))
    plain = MODELS.build(segmentor())
    plain.load_state_dict(dakd.export_state_dict(), strict=True)
    dakd.eval(), plain.eval()
    data = stream(seed=5)
    a = dakd.val_step(data)[0].pred_sem_seg.data
    assert torch.equal(a, plain.val_step(data)[0].pred_sem_seg.data)
    dakd.test_teacher = True
    b = dakd.val_step(data)[0].pred_sem_seg.data
    assert torch.equal(b, model_teacher_prediction(dakd, data))


def model_teacher_prediction(model, data):
    x = model.data_preprocessor(data, False)['inputs']
    with torch.no_grad():
        logits = model.teacher.model.forward_levels(model.teacher.adapt_inputs(x))['final']
    return resize(logits, size=x.shape[2:], mode='bilinear', align_corners=False)[0].argmax(0, keepdim=True)


def test_teacher_checkpoint_errors_name_the_training_config(tmp_path):
    cfg_path = tmp_path / 'adaptsegnet_teacher.py'
    Config(dict(model=dict(type='AdaptSegNet', student=segmentor(base=16)))).dump(str(cfg_path))
    with pytest.raises(FileNotFoundError, match=f'python tools/train.py {cfg_path}'):
        build('DAKD', teachers=dict(seg=dict(config=str(cfg_path), checkpoint=str(tmp_path / 'missing.pth'))))


def test_the_weighting_balances_the_da_and_kd_objectives(ckpt):
    """With Fixed weights 0 on adv and kd.seg, a DAKD step moves the student exactly as the source
    cross-entropy alone does; a learnable strategy (UW) over the three objectives trains with the student."""
    fixed = dict(type='Fixed', balance='all', weights={'seg': 1.0, 'adv': 0.0, 'kd.seg': 0.0})
    model = build('DAKD', ckpt, weighting=fixed)
    ow = MultiOptimWrapperConstructor(dict(
        student=dict(type='WeightedOptimWrapper', modules='*', optimizer=dict(type='SGD', lr=0.1)),
        discriminator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))))(model)
    batch = two_streams()
    log_vars = model.train_step(batch, ow)
    assert (log_vars['w.seg'], log_vars['w.adv'], log_vars['w.kd.seg']) == (1.0, 0.0, 0.0)
    torch.manual_seed(0)
    plain = MODELS.build(segmentor())
    assert same(params(plain), params(build('DAKD', ckpt, weighting=fixed).student))   # the same start
    data = plain.data_preprocessor(batch['source'], True)
    losses = plain(**data, mode='loss')
    sgd = torch.optim.SGD(plain.parameters(), lr=0.1)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    sgd.step()
    for name, p in plain.named_parameters():
        torch.testing.assert_close(model.student.get_parameter(name), p, rtol=1e-5, atol=1e-6, msg=name)

    uw = build('DAKD', ckpt, weighting=dict(type='UW', balance='all'))
    ow = optim_wrappers(uw)
    before = params(uw.weighting)
    assert uw.weighting.objectives == ['seg', 'adv', 'kd.seg'] and before
    uw.train_step(two_streams(), ow)
    assert not same(before, params(uw.weighting))
