"""Domain-adaptive joint distillation (JointDAKD, configs/dakd/jd_dakd_synthdrive_day2fog.py): the joint student
seen as a one-level segmentor, the depth term against an independent computation, the objectives, bad input,
and the shipped config trained 2 iterations under mmengine's Runner on tiny rendered domains: target labels
never read (corrupted on disk: identical weights), the export loads into the plain joint student."""
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from PIL import Image

from jdbench.registry import MODELS
from jdbench.utils import load_state_dict_checked
from test_dakd_common import NORM, NUM_CLASSES, PRE, optim_wrappers, params, preprocess, same, save_teacher, \
    segmentor, teacher_cfg

CONFIG = 'configs/dakd/jd_dakd_synthdrive_day2fog.py'
PLAIN = 'configs/baselines/mtl_synthdrive.py'


def joint(base: int = 8, fpn: int = 16, type: str = 'JointLevelStudent', **kw) -> dict:
    """A slim joint student: FCN seg head and a depth head on FPN level 0."""
    return dict(
        type=type, data_preprocessor=PRE,
        backbone=dict(type='ResNetV1c', depth=18, base_channels=base, stem_channels=base, num_stages=4,
                      out_indices=(0, 1, 2, 3), strides=(1, 2, 2, 2), norm_cfg=NORM, contract_dilation=True),
        neck=dict(type='mmdet.FPN', in_channels=[base, 2 * base, 4 * base, 8 * base], out_channels=fpn, num_outs=4),
        heads=dict(
            seg=dict(type='FCNHead', in_channels=fpn, in_index=0, channels=fpn, num_convs=1, concat_input=False,
                     dropout_ratio=0., num_classes=NUM_CLASSES, norm_cfg=NORM, align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
            depth=dict(type='DepthHead', in_channels=fpn, in_index=0, channels=fpn, num_convs=1, dropout_ratio=0.,
                       parametrisation='sigmoid', max_depth=80.0, norm_cfg=NORM, align_corners=False,
                       loss_decode=dict(type='DepthL1Loss'))),
        **kw)


def depth_teacher(path, seed: int = 2) -> dict:
    """A random-weight single-head depth model (base 16), saved; its Teacher config."""
    cfg = joint(base=16, type='JointStudent')
    cfg['heads'] = dict(depth=cfg['heads']['depth'])
    torch.manual_seed(seed)
    torch.save({'state_dict': MODELS.build(cfg).state_dict()}, str(path))
    return dict(type='Teacher', config=cfg, checkpoint=str(path))


@pytest.fixture(scope='module')
def teachers(tmp_path_factory):
    root = tmp_path_factory.mktemp('jd_dakd_teachers')
    save_teacher(root / 'seg.pth')
    return dict(seg=teacher_cfg(root / 'seg.pth'), depth=depth_teacher(root / 'depth.pth'))


def build(teachers, seed: int = 0, **kw):
    torch.manual_seed(seed)
    cfg = dict(type='JointDAKD', student=joint(), teachers=teachers, paradigm='output_target',
               discriminator=dict(final=dict(type='FCDiscriminator', channels=8)), lambda_adv=dict(final=0.001))
    cfg.update(kw)
    return MODELS.build(cfg)


def joint_stream(n: int = 2, h: int = 64, w: int = 64, seed: int = 0, labels: bool = True) -> dict:
    gen = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(0, 256, (3, h, w), generator=gen, dtype=torch.uint8) for _ in range(n)]
    samples = []
    for _ in range(n):
        s = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
        if labels:
            s.gt_sem_seg = PixelData(data=torch.randint(0, NUM_CLASSES, (1, h, w), generator=gen))
            s.gt_depth_map = PixelData(data=torch.rand(1, h, w, generator=gen) * 60 + 1)
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def joint_streams(seed: int = 0) -> dict:
    return dict(source=joint_stream(seed=seed), target=joint_stream(seed=seed + 100))


# --------------------------------------------------------------------------------------------- the model
def test_joint_level_student_is_the_joint_student():
    torch.manual_seed(0)
    student = MODELS.build(joint())
    torch.manual_seed(0)
    plain = MODELS.build(joint(type='JointStudent'))
    assert student.levels == ('final', ) and student.task == 'seg' and student.aux_weight == 0.0
    assert same(params(student), params(plain))
    x = preprocess(plain, joint_stream())
    levels = student.forward_levels(x['inputs'])
    ref = plain._forward(x['inputs'])
    assert set(levels) == {'final', 'depth'}
    assert torch.equal(levels['final'], ref['seg']) and torch.equal(levels['depth'], ref['depth'])
    losses = student.level_losses(levels, x['data_samples'])
    expected = plain.loss(x['inputs'], x['data_samples'])
    assert losses.keys() == expected.keys() and all(torch.equal(losses[k], expected[k]) for k in losses)
    with pytest.raises(ValueError, match="seg_task 'depth' is not a segmentation head"):
        MODELS.build(joint(seg_task='depth'))


def test_terms_objectives_and_the_depth_term_against_an_independent_computation(teachers):
    model = build(teachers)
    assert [o.name for o in model.objectives()] == ['seg', 'depth', 'adv', 'kd.seg', 'kd.depth']
    assert {o.name: o.kind for o in model.objectives()}['kd.depth'] == 'distill'
    assert set(model.teachers) == {'seg', 'depth'} and model.teachers['depth'].kind == 'depth'
    data = preprocess(model, joint_streams())
    losses = model.loss(data['source'], data['target'])
    assert sorted(k for k in losses if k.startswith('kd.')) == [
        'kd.depth.target.loss_l1', 'kd.seg.target.loss_kl', 'kd.seg.target.loss_pseudo_ce']
    assert {'seg.loss_ce', 'depth.loss_l1', 'adv.loss_final'} <= set(losses)
    # the depth term: L1 between the student's depth at the input size and the teacher's, resized to it
    x_t = data['target']['inputs']
    with torch.no_grad():
        s = model.student._forward(x_t)['depth']
        s = F.interpolate(s, size=x_t.shape[2:], mode='bilinear', align_corners=False)
        t = model.teachers['depth'].model.heads['depth'](list(model.teachers['depth'].model.extract_feat(x_t)))
        t = F.interpolate(t, size=x_t.shape[2:], mode='bilinear', align_corners=False)
    torch.testing.assert_close(losses['kd.depth.target.loss_l1'].detach(), (s - t).abs().mean())
    # on both domains, with another weight
    both = build(teachers, depth_domains=('source', 'target'), lambda_depth=0.5)
    got = both.loss(data['source'], data['target'])
    torch.testing.assert_close(got['kd.depth.target.loss_l1'].detach(), 0.5 * (s - t).abs().mean())
    assert 'kd.depth.source.loss_l1' in got
    off = build(teachers, lambda_depth=0.0)
    assert 'kd.depth' not in [o.name for o in off.objectives()]
    assert not any(k.startswith('kd.depth') for k in off.loss(data['source'], data['target']))


def test_training_never_reads_target_labels_but_reads_the_source_depth(teachers):
    def run(target, corrupt_source=False):
        model = build(teachers, seed=3)
        ow = optim_wrappers(model)
        for i in range(2):
            batch = joint_streams(seed=i)
            if target == 'corrupt':
                for s in batch['target']['data_samples']:
                    s.gt_sem_seg.data = (s.gt_sem_seg.data + 1 + i) % 255
                    s.gt_depth_map.data = s.gt_depth_map.data * 3 + 7
            elif target == 'none':
                batch['target'] = joint_stream(seed=i + 100, labels=False)
            if corrupt_source:
                for s in batch['source']['data_samples']:
                    s.gt_depth_map.data = s.gt_depth_map.data * 3 + 7
            model.train_step(batch, ow)
        return {**params(model), **{f'buffer.{k}': v.clone() for k, v in model.named_buffers()}}

    clean = run('clean')
    assert same(clean, run('corrupt')) and same(clean, run('none'))
    assert not same(clean, run('clean', corrupt_source=True))  # the source depth labels are read


def test_bad_input(teachers, tmp_path):
    with pytest.raises(ValueError, match='needs a segmentation teacher named after'):
        build(dict(depth=teachers['depth']))
    with pytest.raises(ValueError, match=r"no teacher for the depth task\(s\) \['depth'\]"):
        build(dict(seg=teachers['seg']))
    with pytest.raises(ValueError, match="teacher 'depth' .* is a seg model, but the student's 'depth' head is a "
                                         'depth head'):
        build(dict(seg=teachers['seg'], depth=dict(type='Teacher', config=segmentor(base=16, aux=False),
                                                    checkpoint=None)))
    with pytest.raises(ValueError, match=r"depth_domains \['sky'\] unknown"):
        build(teachers, depth_domains=('sky', ))
    with pytest.raises(ValueError, match="distillation level 'feature' reads the 'aux' output, which the student "
                                         'does not give'):
        build(teachers, paradigm='feature_target')


# --------------------------------------------------------------------------------------------- the config
def _write_teachers(cfg: Config, tmp_path) -> dict:
    """Random-weight checkpoints of the config's two teachers (what their final.pth would hold)."""
    seg = MODELS.build(Config.fromfile(cfg.model.teachers.seg.config).model.student)
    depth = MODELS.build(Config.fromfile(cfg.model.teachers.depth.config).model)
    out = {}
    for name, net in (('seg', seg), ('depth', depth)):
        path = str(tmp_path / f'teacher_{name}.pth')
        torch.save({'state_dict': net.state_dict()}, path)
        out[f'model.teachers.{name}.checkpoint'] = path
    return out


def _corrupt_target_labels(root: str) -> int:
    """Rewrite every training label and disparity PNG of a Cityscapes-layout root; returns how many."""
    n = 0
    for sub, fn in (('gtFine', lambda a: (a.astype(np.int64) * 7 + 3) % 19),
                    ('disparity', lambda a: a.astype(np.int64) // 2 + 1000)):
        for dirpath, _, files in os.walk(osp.join(root, sub, 'train')):
            for f in files:
                path = osp.join(dirpath, f)
                with Image.open(path) as im:
                    arr = np.asarray(im)
                dtype = np.uint8 if arr.dtype == np.uint8 else arr.dtype
                Image.fromarray(fn(arr).astype(dtype)).save(path)
                n += 1
    return n


@pytest.fixture(autouse=True)
def _plain_config_text(monkeypatch):
    monkeypatch.setattr(Config, 'pretty_text', property(lambda self: repr(self._cfg_dict.to_dict())))


def _train(cfg: Config, work_dir: str, name: str) -> Runner:
    cfg = Config(cfg.to_dict())
    cfg.work_dir = work_dir
    cfg.visualizer.name = name
    runner = Runner.from_cfg(cfg)
    with torch.serialization.safe_globals([getattr]):
        runner.train()
    return runner


def test_config_trains_under_the_runner_ignores_target_labels_and_exports_the_joint_student(tmp_path):
    from jdbench.benchmark.config_utils import data_cfg_options
    cfg = Config.fromfile(CONFIG)
    src, tgt = str(tmp_path / 'source'), str(tmp_path / 'target')
    # the suite's per-stream data block: each domain gets its own root (source day/A, target fog/B)
    streams = dict(source=dict(data_root=src, num_train=4, num_val=2, seed=0),
                   target=dict(data_root=tgt, num_train=4, num_val=2, seed=1))
    opts = data_cfg_options(cfg, dict(size=(32, 64), batch_size=2, num_workers=0, streams=streams))
    assert opts['train_dataloader.dataset.streams.source.data_root'] == src
    assert opts['train_dataloader.dataset.streams.target.data_root'] == tgt
    assert opts['val_dataloader.dataset.data_root'] == tgt and opts['source_val_dataloader.dataset.data_root'] == src
    cfg.merge_from_dict({
        **opts, **_write_teachers(cfg, tmp_path),
        'train_cfg.max_iters': 2, 'train_cfg.val_interval': 2, 'default_hooks.logger.interval': 1,
        'default_hooks.checkpoint.interval': 2, 'param_scheduler.0.end': 1, 'param_scheduler.1.begin': 1,
        'param_scheduler.1.end': 2})
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] != 'TrainingPlotHook']
    first = _train(cfg, str(tmp_path / 'clean'), 'jd_dakd_clean')
    assert first.iter == 2 and type(first.model).__name__ == 'JointDAKD'
    hub = first.message_hub
    assert hub.get_scalar('train/kd.depth.target.loss_l1').current() > 0
    assert hub.get_scalar('train/disc.loss_final').current() > 0
    assert {'val/mIoU', 'val/abs_err'} <= set(hub.log_scalars)  # target seg and depth metrics
    # the export is the joint student alone: it loads into configs/baselines/mtl_synthdrive.py's model
    final = load_state_dict_checked(str(tmp_path / 'clean' / 'final.pth'))
    plain = MODELS.build(Config.fromfile(PLAIN).model)
    plain.load_state_dict(final, strict=True)
    assert same(params(plain), params(first.model.student))
    # the same run on a copy of the target whose labels and depth are corrupted: identical weights
    bad = str(tmp_path / 'target_corrupt')
    shutil.copytree(tgt, bad)
    assert _corrupt_target_labels(bad) == 8  # 4 label maps + 4 disparity maps
    for key in ('train_dataloader.dataset.streams.target.data_root', 'target_train_dataset.data_root'):
        cfg.merge_from_dict({key: bad})
    second = _train(cfg, str(tmp_path / 'corrupt'), 'jd_dakd_corrupt')
    assert same(params(first.model), params(second.model))
    assert all(torch.equal(a, b) for a, b in zip(first.model.buffers(), second.model.buffers()))
