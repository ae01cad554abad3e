"""X-Distill: class grouping, disparity translator, cross-task loss, the XDistill model (frozen teacher,
gradient through the translator, cached labels, export) and the joint student's KDStaticXD."""
import copy
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from jdbench.engine.optimizers import WeightedOptimWrapper
from jdbench.models.selfsup import (CITYSCAPES_CLASSES, GROUPINGS, ClassGrouping, CrossTaskDistillLoss,
                                    DisparityTranslator, MonoDepthNet, cross_task_distill, resize_logits)
from jdbench.registry import MODELS

H, W, FX = 64, 96, 48.
K = [[FX, 0., W / 2, 0.], [0., FX, H / 2, 0.], [0., 0., 1., 0.], [0., 0., 0., 1.]]
BACKBONE = dict(type='ResNetV1c', depth=18, base_channels=8, stem_channels=8, num_stages=4,
                out_indices=(0, 1, 2, 3), strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1),
                norm_cfg=dict(type='BN'), contract_dilation=True)
DEPTH_NET = dict(type='MonoDepthNet', backbone=BACKBONE, decoder=dict(num_ch_dec=(8, 8, 16, 16, 32)))
POSE_NET = dict(type='PoseNet', backbone=dict(BACKBONE, in_channels=6), decoder=dict(channels=32))
SEG_CFG = 'configs/teachers/seg_synthdrive.py'
TEACHER_MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
TEACHER_STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)


def tiny(task, **extra):
    """cfg_options shrinking a teacher config (ResNet-18 base 8, FPN 16)."""
    return {'model.backbone.base_channels': 8, 'model.backbone.stem_channels': 8,
            'model.neck.in_channels': [8, 16, 32, 64], 'model.neck.out_channels': 16,
            f'model.heads.{task}.in_channels': 16, f'model.heads.{task}.channels': 16, **extra}


def save_teacher(path, task='seg', **extra):
    """The tiny teacher from its real config, with non-default BN statistics."""
    cfg = Config.fromfile(f'configs/teachers/{task}_synthdrive.py')
    cfg.merge_from_dict(tiny(task, **extra))
    torch.manual_seed(1)
    model = MODELS.build(cfg.model)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.9, 1.1)
    torch.save({'state_dict': model.state_dict()}, str(path))
    return str(path)


@pytest.fixture(scope='module')
def ckpts(tmp_path_factory):
    root = tmp_path_factory.mktemp('xd_teachers')
    return dict(seg=save_teacher(root / 'seg.pth'), depth=save_teacher(root / 'depth.pth', 'depth'))


def teacher_cfg(ckpts, task='seg', **extra):
    return dict(type='Teacher', config=f'configs/teachers/{task}_synthdrive.py', checkpoint=ckpts[task],
                cfg_options=tiny(task, **extra))


def xdistill(ckpts, **kw):
    torch.manual_seed(0)
    cfg = dict(type='XDistill', depth_net=copy.deepcopy(DEPTH_NET), pose_net=copy.deepcopy(POSE_NET),
               teacher=teacher_cfg(ckpts))
    cfg.update(kw)
    return MODELS.build(cfg)


def video_batch(n=2, seed=0, paths=True):
    g = torch.Generator().manual_seed(seed)
    inputs = torch.rand(n, 18, H, W, generator=g)
    inputs[:, 9:] = inputs[:, :9]
    samples = []
    for i in range(n):
        meta = dict(frame_ids=(0, -1, 1), K=K, has_aug=True, img_shape=(H, W), ori_shape=(H, W), flip=False)
        if paths:
            meta['img_paths'] = [f'drive/{i:04d}_{f}.png' for f in (0, -1, 1)]
        samples.append(SegDataSample(metainfo=meta))
    return inputs, samples


# ------------------------------------------------------------------------------------------ grouping
def test_default_grouping_covers_the_cityscapes_classes():
    grouping = ClassGrouping()
    assert grouping.group_names == ('ground', 'structure', 'sky', 'objects') and grouping.num_classes == 19
    assert grouping.index.tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 2, 3, 3, 3, 3, 3, 3, 3, 3]
    labels = torch.tensor([[0, 10, 13, 255], [8, 9, 18, 2]])
    assert grouping.labels(labels).tolist() == [[0, 2, 3, 255], [1, 0, 3, 1]]
    for name, groups in GROUPINGS.items():                  # every preset is a partition of the 19 classes
        g = ClassGrouping(name)
        assert g.num_groups == len(groups) and sorted(sum(map(list, groups.values()), [])) == sorted(
            CITYSCAPES_CLASSES)
    category7 = [0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 5, 6, 6, 6, 6, 6, 6]   # = TRAINID_TO_CATEGORY
    assert ClassGrouping('category7').index.tolist() == category7


def test_grouped_probabilities_and_hard_targets():
    grouping = ClassGrouping(dict(x=['a', 'c'], y=['b']), classes=('a', 'b', 'c'))
    logits = torch.log(torch.tensor([1., 2., 1.])).view(1, 3, 1, 1)      # softmax (1/4, 1/2, 1/4)
    torch.testing.assert_close(grouping.probs(logits).flatten(), torch.tensor([0.5, 0.5]))
    assert grouping.targets(logits, 'ce').tolist() == [[[1]]]           # argmax class b -> group y
    # class indices work as well as names
    assert ClassGrouping({'x': [0, 2], 'y': [1]}, classes=('a', 'b', 'c')).index.tolist() == [0, 1, 0]


def test_bad_grouping_maps_fail_with_clear_messages():
    groups = {k: list(v) for k, v in GROUPINGS['depth4'].items()}
    left_out = dict(groups, sky=[])
    with pytest.raises(ValueError, match='no class'):
        ClassGrouping(left_out)
    del left_out['sky']
    with pytest.raises(ValueError, match=r"leaves teacher classes \['sky'\] out"):
        ClassGrouping(left_out)
    with pytest.raises(ValueError, match="class 'road' is in groups 'ground' and 'sky'"):
        ClassGrouping(dict(groups, sky=['sky', 'road']))
    with pytest.raises(ValueError, match="'roads' is not a teacher class"):
        ClassGrouping(dict(groups, sky=['sky', 'roads']))
    with pytest.raises(KeyError, match='unknown grouping'):
        ClassGrouping('depth5')
    with pytest.raises(ValueError, match='predicts 7 classes'):
        ClassGrouping().check_teacher(7)


# ------------------------------------------------------------------------------------------ loss, translator
def test_cross_task_loss_known_values():
    ce = CrossTaskDistillLoss('ce', loss_weight=0.5)
    logits = torch.randn(2, 4, 3, 5, generator=torch.Generator().manual_seed(0))
    labels = torch.randint(0, 4, (2, 3, 5), generator=torch.Generator().manual_seed(1))
    labels[0, 0, 0] = 255
    torch.testing.assert_close(ce(logits, labels), 0.5 * F.cross_entropy(logits, labels, ignore_index=255))
    assert ce(logits, torch.full_like(labels, 255)).item() == 0.
    # KL(p || q) for p = (1/2, 1/2), q = softmax(0, ln 3) = (1/4, 3/4)
    kl = CrossTaskDistillLoss('kl', loss_weight=1.)
    value = kl(torch.tensor([0., math.log(3.)]).view(1, 2, 1, 1), torch.tensor([0.5, 0.5]).view(1, 2, 1, 1))
    assert value.item() == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(2 / 3), rel=1e-6)
    assert kl(logits, logits.softmax(1)).abs().item() < 1e-6
    with pytest.raises(ValueError, match='mode'):
        CrossTaskDistillLoss('mse')
    with pytest.raises(ValueError, match='resize'):
        ce(logits, labels[:, :2])


def test_translator_scales_normalisation_and_detach():
    disps = [torch.rand(2, 1, 32 // 2 ** s, 48 // 2 ** s) + 0.1 for s in range(4)]
    t0 = DisparityTranslator(num_groups=4)                             # scale 0, stride 2
    assert t0(disps).shape == (2, 4, 16, 24) and t0.output_size(disps) == (16, 24)
    t12 = DisparityTranslator(num_groups=3, in_scales=(2, 1), stride=1)
    assert t12(disps).shape == (2, 3, 16, 24)                          # the finest read scale
    assert t12({1: disps[1], 2: disps[2]}).shape == (2, 3, 16, 24) and t12.output_size(disps) == (16, 24)
    odd = [torch.rand(1, 1, 33, 47)]
    t2 = DisparityTranslator(num_groups=2)
    assert t2(odd).shape[2:] == t2.output_size(odd) == (17, 24)
    # mean-normalised input: the (unknown) scale of the disparity does not matter
    torch.testing.assert_close(t0([3 * d for d in disps]), t0(disps))
    # gradient reaches the disparity unless detached
    d = disps[0].clone().requires_grad_()
    t0(d).sum().backward()
    assert d.grad is not None and d.grad.abs().sum() > 0
    d = disps[0].clone().requires_grad_()
    DisparityTranslator(num_groups=4, detach_input=True)(d).sum().backward()
    assert d.grad is None
    with pytest.raises(KeyError, match='not predicted'):
        DisparityTranslator(num_groups=4, in_scales=(4, ))(disps)


def test_cross_task_distill_function_resizes_teacher_logits_before_grouping():
    translator, grouping = DisparityTranslator(num_groups=4), ClassGrouping()
    loss = CrossTaskDistillLoss('kl')
    teacher = torch.randn(2, 19, 8, 12)
    value, logits, target = cross_task_distill(torch.rand(2, 1, 32, 48), teacher, translator, grouping, loss)
    assert logits.shape == (2, 4, 16, 24)
    expected = grouping.probs(F.interpolate(teacher, (16, 24), mode='bilinear', align_corners=False))
    torch.testing.assert_close(target, expected)
    torch.testing.assert_close(value, loss(logits, expected))


# ------------------------------------------------------------------------------------------ XDistill
def test_xdistill_teacher_target_is_the_grouped_teacher_on_the_raw_frame(ckpts):
    model = xdistill(ckpts)
    inputs, samples = video_batch()
    inputs[:, 9:] = 1 - inputs[:, :9]                                  # an augmented copy that differs
    target = model.teacher_targets(inputs[:, :3], samples, (H, W))
    # the teacher sees 0..255 RGB normalised with its own mean/std
    with torch.no_grad():
        model.teacher.model.eval()
        x = (inputs[:, :3] * 255 - TEACHER_MEAN) / TEACHER_STD
        logits = model.teacher.model.heads.seg(list(model.teacher.model.extract_feat(x)))
    expected = model.grouping.labels(resize_logits(logits, (H, W)).argmax(1))
    assert torch.equal(target, expected)
    losses = model.loss(inputs, samples)
    assert set(losses) == {'depth.loss_photo', 'depth.loss_smooth', 'depth.automask', 'kd.seg.loss_xd',
                           'kd.seg.acc_xd'}
    assert [(o.name, o.kind) for o in model.objectives()] == [('depth', 'task'), ('kd.seg', 'distill')]


def test_gradient_reaches_the_depth_network_through_the_translator(ckpts):
    model = xdistill(ckpts)
    inputs, samples = video_batch()
    model.loss(inputs, samples)['kd.seg.loss_xd'].backward()

    def grad_norm(module):
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        return sum(float(g.abs().sum()) for g in grads) if grads else 0.

    assert grad_norm(model.translator) > 0
    assert grad_norm(model.depth_net.decoder) > 0 and grad_norm(model.depth_net.backbone) > 0
    assert grad_norm(model.pose_net) == 0
    assert all(p.grad is None for p in model.teacher.parameters())
    # detaching the translator's input: the translator learns, the depth network gets nothing from the term
    detached = xdistill(ckpts, translator=dict(type='DisparityTranslator', detach_input=True))
    detached.loss(inputs, samples)['kd.seg.loss_xd'].backward()
    assert grad_norm(detached.translator) > 0 and grad_norm(detached.depth_net) == 0


def test_teacher_weights_and_bn_statistics_unchanged_by_training(ckpts):
    model = xdistill(ckpts, weighting=dict(type='Fixed', balance='distill', weights={'kd.seg': 1.0}),
                     xd_loss=dict(type='CrossTaskDistillLoss', mode='kl', loss_weight=1.0))
    before = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    translator_before = {k: v.clone() for k, v in model.translator.state_dict().items()}
    ids = {id(p) for p in model.parameters()}
    assert not any(id(p) in ids for p in model.teacher.parameters())
    assert not any(k.startswith(('teacher', 'teachers')) for k in model.state_dict())
    model.train()
    assert not model.teacher.training
    wrapper = WeightedOptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-3))
    inputs, samples = video_batch()
    data = dict(inputs=[(x.view(6, 3, H, W).flip(1).reshape(18, H, W) * 255).round().to(torch.uint8)
                        for x in inputs], data_samples=samples)
    for _ in range(2):
        log = model.train_step(copy.deepcopy(data), wrapper)
    assert 'w.kd.seg' in log and torch.isfinite(log['kd.seg.loss_xd'])
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert any(not torch.equal(v, translator_before[k]) for k, v in model.translator.state_dict().items())


def test_xdistill_exports_the_depth_network_only_and_predicts(ckpts):
    model = xdistill(ckpts)
    state = model.export_state_dict()
    plain = MonoDepthNet(**{k: v for k, v in copy.deepcopy(DEPTH_NET).items() if k != 'type'})
    assert set(state) == set(plain.state_dict())
    plain.load_state_dict(state, strict=True)
    assert any(k.startswith('translator.') for k in model.state_dict())
    model.eval()
    samples = [SegDataSample(metainfo=dict(img_shape=(H, W), ori_shape=(50, 70)))]
    with torch.no_grad():
        out = model.predict(torch.rand(1, 3, H, W), samples)
    assert out[0].pred_depth_map.data.shape == (1, 50, 70)


def test_cached_teacher_labels_run_the_teacher_once_per_frame(ckpts, tmp_path):
    inputs, samples = video_batch()
    calls = []

    def count(model):
        """Record the batch size of every forward of the teacher's head."""
        model.teacher.model.heads.seg.register_forward_hook(lambda m, args, out: calls.append(out.shape[0]))
        return model

    model = count(xdistill(ckpts, teacher_mode='cached', cache_dir=str(tmp_path / 'ce')))
    model.loss(inputs, samples)
    model.loss(inputs, samples)
    assert calls == [2] and len(model.label_cache) == 2                # both frames in one forward, once
    # a later run reads them from disk
    again = count(xdistill(ckpts, teacher_mode='cached', cache_dir=str(tmp_path / 'ce')))
    again.loss(inputs, samples)
    assert calls == [2]
    memory = count(xdistill(ckpts, teacher_mode='cached'))              # no folder: kept in memory
    memory.loss(inputs, samples)
    memory.loss(inputs, samples)
    assert calls == [2, 2] and len(memory.label_cache.memory) == 2
    # the cached targets are the online ones (hard labels exactly, soft ones to float16 precision)
    for mode in ('ce', 'kl'):
        xd_loss = dict(type='CrossTaskDistillLoss', mode=mode)
        online = xdistill(ckpts, xd_loss=xd_loss)
        cached = xdistill(ckpts, xd_loss=xd_loss, teacher_mode='cached', cache_dir=str(tmp_path / f'm{mode}'))
        reference = online.teacher_targets(inputs[:, :3], samples, (32, 48))
        first = cached.teacher_targets(inputs[:, :3], samples, (32, 48))
        assert torch.equal(first, cached.teacher_targets(inputs[:, :3], samples, (32, 48)))
        assert first.dtype == reference.dtype
        if mode == 'ce':
            assert torch.equal(first, reference)
        else:
            torch.testing.assert_close(first, reference, atol=1e-3, rtol=0)
    _, no_paths = video_batch(paths=False)
    with pytest.raises(KeyError, match='img_paths'):
        xdistill(ckpts, teacher_mode='cached').loss(inputs, no_paths)


def test_bad_teachers_fail_with_clear_messages(ckpts):
    seg7 = dict(type='Teacher', config=SEG_CFG, checkpoint=None,
                cfg_options=tiny('seg', **{'model.heads.seg.num_classes': 7}))
    with pytest.raises(ValueError, match='predicts 7 classes, but the grouping is over 19'):
        xdistill(ckpts, teacher=seg7)
    # the same teacher with its own 7 class names and a map over them builds
    cats = ('flat', 'construction', 'object', 'nature', 'sky', 'human', 'vehicle')
    model = xdistill(ckpts, teacher=seg7, classes=cats, grouping=dict(
        ground=['flat'], structure=['construction', 'object', 'nature'], sky=['sky'],
        objects=['human', 'vehicle']))
    assert model.grouping.num_groups == 4 and model.translator.num_groups == 4
    with pytest.raises(ValueError, match='segmentation'):
        xdistill(ckpts, teacher=teacher_cfg(ckpts, 'depth'))
    with pytest.raises(ValueError, match='num_groups'):
        xdistill(ckpts, translator=dict(type='DisparityTranslator', num_groups=7))
    with pytest.raises(ValueError, match='teacher_mode'):
        xdistill(ckpts, teacher_mode='offline')


# ------------------------------------------------------------------------------------------ KDStaticXD
def test_kd_static_xd_adds_the_term_and_changes_nothing_else(ckpts):
    student = Config.fromfile('configs/baselines/mtl_synthdrive.py').model
    teachers = dict(seg=teacher_cfg(ckpts), depth=teacher_cfg(ckpts, 'depth'))
    fixed = dict(type='Fixed', balance='distill', weights={'kd.seg': 1.0, 'kd.depth': 1.0})
    torch.manual_seed(0)
    plain = MODELS.build(
        dict(type='KDStatic', student=copy.deepcopy(student), teachers=teachers, weighting=fixed))
    torch.manual_seed(0)
    xd = MODELS.build(dict(type='KDStaticXD', student=copy.deepcopy(student), teachers=teachers,
                           weighting=fixed,
                           cross_task=dict(loss=dict(type='CrossTaskDistillLoss', loss_weight=0.3))))
    g = torch.Generator().manual_seed(0)
    inputs = torch.randn(2, 3, 32, 64, generator=g)
    samples = []
    for _ in range(2):
        s = SegDataSample(metainfo=dict(img_shape=(32, 64), ori_shape=(32, 64), pad_shape=(32, 64)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 19, (1, 32, 64), generator=g))
        s.gt_depth_map = PixelData(data=torch.rand(1, 32, 64, generator=g) * 50 + 1)
        samples.append(s)
    ref, got = plain.loss(inputs, samples), xd.loss(inputs, samples)
    assert set(got) == set(ref) | {'xd.seg.loss_xd', 'xd.seg.acc_xd'}
    for k, v in ref.items():
        torch.testing.assert_close(got[k], v, msg=k)
    # the term reaches the depth head (and the shared backbone) through the translator, not the seg head
    got['xd.seg.loss_xd'].backward()
    def grad_norm(prefix):
        return sum(float(p.grad.abs().sum()) for n, p in xd.named_parameters()
                   if n.startswith(prefix) and p.grad is not None)

    assert grad_norm('xd_translator.') > 0
    assert grad_norm('student.heads.depth') > 0 and grad_norm('student.backbone') > 0
    assert grad_norm('student.heads.seg') == 0
    assert set(xd.export_state_dict()) == set(plain.export_state_dict())
    with pytest.raises(ValueError, match='segmentation teacher'):
        MODELS.build(dict(type='KDStaticXD', student=copy.deepcopy(student), teachers=teachers,
                          cross_task=dict(teacher='depth')))
    with pytest.raises(KeyError, match='unknown cross_task keys'):
        MODELS.build(dict(type='KDStaticXD', student=copy.deepcopy(student), teachers=teachers,
                          cross_task=dict(lambda_xd=1.)))
