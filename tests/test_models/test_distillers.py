"""Distillers (kd_static, KD4MTL, JointDistill), the student export and the distillation configs."""
import copy
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import MessageHub, MMLogger
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import jdbench.engine.hooks.feedback_hook  # noqa: F401  (FeedbackHook, used by the JointDistill configs)
import jdbench.models.distillers  # noqa: F401  (registers the distillers, teachers and connectors)
import jdbench.models.trajectory  # noqa: F401  (TrajectoryDistillLoss)
from jdbench.engine.hooks.export_student_hook import ExportStudentHook
from jdbench.engine.optimizers import WeightedOptimWrapper
from jdbench.registry import HOOKS, MODELS
from jdbench.utils import check_state_dict_matches, load_state_dict_checked

MTL_CFG = 'configs/baselines/mtl_synthdrive.py'
STUDENT = Config.fromfile(MTL_CFG).model
FIXED = dict(type='Fixed', balance='distill', weights={'kd.seg': 1.0, 'kd.depth': 1.0})
CONFIGS = [
    'configs/baselines/kd_static_synthdrive.py', 'configs/baselines/kd4mtl_synthdrive.py',
    'configs/jd_synthdrive.py', 'configs/ablations/jd_no_feedback_synthdrive.py', 'configs/ablations/jd_no_trajectory_synthdrive.py',
    'configs/ablations/jd_no_connector_synthdrive.py', 'configs/ablations/jd_gap_synthdrive.py',
    'configs/baselines/kd_static_cityscapes.py',
    'configs/baselines/kd4mtl_cityscapes.py', 'configs/jd_cityscapes.py'
]


def tiny(task, **extra):
    """cfg_options that shrink a teacher config (ResNet-18 base 8, FPN 16)."""
    return {'model.backbone.base_channels': 8, 'model.backbone.stem_channels': 8,
            'model.neck.in_channels': [8, 16, 32, 64], 'model.neck.out_channels': 16,
            f'model.heads.{task}.in_channels': 16, f'model.heads.{task}.channels': 16, **extra}


def save_teacher(path, task, **extra):
    cfg = Config.fromfile(f'configs/teachers/{task}_synthdrive.py')
    cfg.merge_from_dict(tiny(task, **extra))
    torch.manual_seed(1 if task == 'seg' else 2)
    torch.save({'state_dict': MODELS.build(cfg.model).state_dict()}, str(path))
    return str(path)


@pytest.fixture(scope='module')
def ckpts(tmp_path_factory):
    root = tmp_path_factory.mktemp('teachers')
    return dict(seg=save_teacher(root / 'seg.pth', 'seg'), depth=save_teacher(root / 'depth.pth', 'depth'),
                seg7=save_teacher(root / 'seg7.pth', 'seg', **{'model.heads.seg.num_classes': 7}),
                root=str(root))


def teacher_cfg(ckpts, task, key=None, **over):
    cfg = dict(type='Teacher', config=f'configs/teachers/{task}_synthdrive.py', checkpoint=ckpts[key or task],
               cfg_options=tiny(task), features=dict(
                   last=dict(type='ModuleInputsRecorder', source=f'heads.{task}.conv_seg'),
                   shared=dict(type='ModuleOutputsRecorder', source='neck', index=0)))
    cfg.update(over)
    return cfg


def build(kind, ckpts, teachers=None, **kw):
    defaults = dict(KDStatic=dict(weighting=FIXED), KD4MTL=dict(weighting=FIXED),
                    JointDistill=dict(weighting=dict(type='Feedback', balance='distill')))[kind]
    teachers = teachers or dict(seg=teacher_cfg(ckpts, 'seg'), depth=teacher_cfg(ckpts, 'depth'))
    torch.manual_seed(0)
    return MODELS.build(
        dict(type=kind, student=copy.deepcopy(STUDENT), teachers=teachers, **{**defaults, **kw}))


def batch(n=2, h=32, w=64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    samples = []
    for _ in range(n):
        s = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 19, (1, h, w), generator=gen))
        s.gt_depth_map = PixelData(data=torch.rand(1, h, w, generator=gen) * 50 + 1)
        samples.append(s)
    inputs = [torch.randint(0, 256, (3, h, w), generator=gen, dtype=torch.uint8) for _ in range(n)]
    return dict(inputs=inputs, data_samples=samples)


def loss_of(model, data):
    data = model.data_preprocessor(copy.deepcopy(data), True)
    return model(**data, mode='loss')


def optim(model, lr=1e-2, **kw):
    return WeightedOptimWrapper(torch.optim.AdamW(model.parameters(), lr=lr), **kw)


GT_KEYS = {'seg.loss_ce', 'seg.acc_seg', 'depth.loss_l1'}


@pytest.mark.parametrize('kind, kw, extra', [
    ('KDStatic', {}, {'kd.seg.loss_kl', 'kd.depth.loss_l1'}),
    ('KD4MTL', {}, {'kd.seg.loss_feat', 'kd.depth.loss_feat'}),
    ('JointDistill', {}, {'kd.seg.loss_kl', 'kd.depth.loss_l1', 'conn.seg.loss_ce', 'conn.depth.loss_l1'}),
    ('JointDistill', dict(connector=None), {'kd.seg.loss_kl', 'kd.depth.loss_l1'}),
])
def test_loss_keys_and_logged_weights(ckpts, kind, kw, extra):
    model = build(kind, ckpts, **kw)
    assert set(loss_of(model, batch())) == GT_KEYS | extra
    log_vars = model.train_step(batch(), optim(model))
    assert set(log_vars) == GT_KEYS | extra | {'loss', 'w.kd.seg', 'w.kd.depth'}
    assert float(log_vars['w.kd.seg']) == 1.0


def test_one_student_forward_and_one_forward_per_teacher(ckpts):
    model = build('JointDistill', ckpts)
    calls = {'student': 0, 'seg': 0, 'depth': 0}

    def counter(key):
        def hook(*args):
            calls[key] += 1
        return hook

    model.student.backbone.register_forward_hook(counter('student'))
    for name, teacher in model.teachers.items():
        teacher.model.backbone.register_forward_hook(counter(name))
    model.train_step(batch(), optim(model))
    assert calls == {'student': 1, 'seg': 1, 'depth': 1}


def test_teacher_weights_and_bn_statistics_unchanged_by_training(ckpts):
    model = build('JointDistill', ckpts)
    before = {n: {k: v.clone() for k, v in t.state_dict().items() if torch.is_tensor(v)}
              for n, t in model.teachers.items()}
    student_before = model.student.backbone.stem[0].weight.clone()
    model.train()
    wrapper = optim(model)
    for seed in range(3):
        model.train_step(batch(seed=seed), wrapper)
    for name, teacher in model.teachers.items():
        assert not teacher.training
        for key, value in before[name].items():
            assert torch.equal(teacher.state_dict()[key], value), f'{name}: {key} changed'
        assert any('running_mean' in k for k in before[name])
    assert not torch.equal(model.student.backbone.stem[0].weight, student_before)


def test_no_gradient_into_teachers_and_connector_only_from_its_own_loss(ckpts):
    model = build('JointDistill', ckpts)
    data = model.data_preprocessor(batch(), True)
    outs = model.run_teachers(data['inputs'])
    assert not any(o.out.requires_grad for o in outs.values())
    assert not any(f.requires_grad for o in outs.values() for f in o.feats.values())

    def grads(module):
        return [p.grad for p in module.parameters()]

    # student KD terms only: the connector gets no gradient (its outputs are detached targets)
    losses = model(**data, mode='loss')
    sum(v for k, v in losses.items() if k.startswith('kd.')).backward()
    assert all(g is None or not g.any() for g in grads(model.connector))
    assert any(g is not None and g.any() for g in grads(model.student))
    assert all(p.grad is None for t in model.teachers.values() for p in t.parameters())
    # connector GT terms only: the connector learns, the student gets nothing (it sees teacher features only)
    model.zero_grad(set_to_none=True)
    losses = model(**data, mode='loss')
    sum(v for k, v in losses.items() if k.startswith('conn.') and 'loss' in k).backward()
    assert any(g is not None and g.any() for g in grads(model.connector))
    assert all(g is None for g in grads(model.student))
    assert all(p.grad is None for t in model.teachers.values() for p in t.parameters())


def test_teachers_not_in_optimizer_nor_state_dict(ckpts):
    model = build('KD4MTL', ckpts)
    wrapper = build_optim_wrapper(model, dict(
        type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3),
        paramwise_cfg=dict(custom_keys={'adaptors': dict(lr_mult=10.0)})))
    in_optim = {id(p) for group in wrapper.optimizer.param_groups for p in group['params']}
    teacher_tensors = [p for t in model.teachers.values() for p in list(t.parameters()) + list(t.buffers())]
    assert teacher_tensors and not any(id(p) in in_optim for p in teacher_tensors)
    assert {id(p) for p in model.parameters()} == in_optim
    adaptor_lrs = [g['lr'] for g in wrapper.optimizer.param_groups
                   if any(p is model.adaptors.seg.conv.weight for p in g['params'])]
    assert adaptor_lrs == [pytest.approx(1e-2)]
    keys = list(model.state_dict())
    assert not any(k.startswith('teachers') or '.teachers.' in k for k in keys)
    assert 'adaptors.seg.conv.weight' in keys and model.adaptors.seg.conv.bias is None
    assert model.adaptors.depth.conv.weight.shape == (16, 64, 1, 1)      # student FPN 64 -> teacher FPN 16


def test_device_and_dtype_moves_reach_the_teachers(ckpts):
    model = build('KDStatic', ckpts).double()
    assert all(p.dtype == torch.float64 for t in model.teachers.values() for p in t.parameters())
    model.float()
    assert all(p.dtype == torch.float32 for t in model.teachers.values() for p in t.parameters())


def test_exported_student_predicts_exactly_like_the_distiller(ckpts, tmp_path):
    model = build('JointDistill', ckpts)
    wrapper = optim(model)
    for seed in range(2):
        model.train_step(batch(seed=seed), wrapper)
    model.eval()
    data = batch(seed=5)
    with torch.no_grad():
        expected = model.val_step(copy.deepcopy(data))
    runner = SimpleNamespace(model=model, work_dir=str(tmp_path),
                             cfg=SimpleNamespace(filename='configs/jd.py'), iter=2, epoch=0, experiment_name='exp',
                             logger=MMLogger.get_current_instance())
    hook = HOOKS.build(dict(type='ExportStudentHook'))
    assert isinstance(hook, ExportStudentHook)
    hook.after_train(runner)
    assert hook.path == osp.join(str(tmp_path), 'final.pth')
    meta = torch.load(hook.path, weights_only=True)['meta']
    assert meta['config'] == 'configs/jd.py' and meta['iter'] == 2 and meta['student_only']
    state_dict = load_state_dict_checked(hook.path)
    # tools/test.py configs/baselines/mtl_synthdrive.py final.pth: the plain student config
    plain = MODELS.build(copy.deepcopy(STUDENT))
    assert set(state_dict) == set(plain.state_dict())
    assert not any(k.startswith(('teachers', 'connector', 'adaptors', 'student.')) for k in state_dict)
    check_state_dict_matches(plain, state_dict, hook.path)
    plain.load_state_dict(state_dict, strict=True)
    plain.eval()
    with torch.no_grad():
        got = plain.val_step(copy.deepcopy(data))
    for a, b in zip(expected, got):
        assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)
        assert torch.equal(a.seg_logits.data, b.seg_logits.data)
        assert torch.equal(a.pred_depth_map.data, b.pred_depth_map.data)


def test_export_hook_on_a_plain_model_saves_its_own_state_dict(tmp_path):
    plain = MODELS.build(copy.deepcopy(STUDENT))
    runner = SimpleNamespace(model=plain, work_dir=str(tmp_path), cfg=SimpleNamespace(filename=MTL_CFG),
                             iter=0, epoch=0, experiment_name='exp',
                             logger=MMLogger.get_current_instance())
    ExportStudentHook().after_train(runner)
    state_dict = load_state_dict_checked(str(tmp_path / 'final.pth'))
    assert set(state_dict) == set(plain.state_dict())


def test_teachers_scores_on_request(ckpts):
    model = build('KDStatic', ckpts, test_teachers=True).eval()
    data = batch(seed=3)
    with torch.no_grad():
        preds = model.val_step(copy.deepcopy(data))
        seg_teacher, depth_teacher = model.teachers['seg'].model, model.teachers['depth'].model
        plain = model.data_preprocessor(copy.deepcopy(data), False)
        seg = seg_teacher.predict(plain['inputs'], copy.deepcopy(plain['data_samples']))
        depth = depth_teacher.predict(plain['inputs'], copy.deepcopy(plain['data_samples']))
    for p, s, d in zip(preds, seg, depth):
        assert torch.equal(p.pred_sem_seg.data, s.pred_sem_seg.data)
        assert torch.equal(p.pred_depth_map.data, d.pred_depth_map.data)


def test_kd_static_targets_are_the_teachers_outputs(ckpts):
    model = build('KDStatic', ckpts, kd_losses=dict(seg=dict(type='TemperatureKLLoss', temperature=2.0)))
    data = model.data_preprocessor(batch(), True)
    losses = model(**data, mode='loss')
    with torch.no_grad():
        s_out = model.student._forward(data['inputs'])
        t_seg = model.teachers['seg'].model._forward(data['inputs'])['seg']
        t_depth = model.teachers['depth'].model._forward(data['inputs'])['depth']
    kl = MODELS.build(dict(type='TemperatureKLLoss', temperature=2.0))
    torch.testing.assert_close(losses['kd.seg.loss_kl'], kl(s_out['seg'], t_seg))
    torch.testing.assert_close(losses['kd.depth.loss_l1'], (s_out['depth'] - t_depth).abs().mean())
    # depth_kd_mask='gt': no valid ground truth -> no depth KD
    masked = build('KDStatic', ckpts, depth_kd_mask='gt')
    data = masked.data_preprocessor(batch(), True)
    for s in data['data_samples']:
        s.gt_depth_map.data.zero_()
    assert masked(**data, mode='loss')['kd.depth.loss_l1'].item() == 0.0


def test_gradient_accumulation(ckpts):
    model = build('KD4MTL', ckpts)
    wrapper = optim(model, accumulative_counts=2)
    wrapper.initialize_count_status(model, 0, 4)
    weight = model.student.backbone.stem[0].weight
    before = weight.clone()
    model.train_step(batch(seed=0), wrapper)
    assert torch.equal(weight, before)
    model.train_step(batch(seed=1), wrapper)
    assert not torch.equal(weight, before)


def test_trajectory_term_only_when_fed_and_reads_no_global_state(ckpts):
    """The term comes from what the hook fed (probe set, progress): the message hub is never read."""
    traj = dict(type='TrajectoryDistillLoss', source='final', topk=4)
    model = build('JointDistill', ckpts, trajectory=traj)
    assert model.trajectory.used_sources == dict(seg='final', depth='final')  # prepared when built
    MessageHub.get_current_instance().update_info('iter', 10**6)  # a runner's iteration: must not matter
    assert 'traj.loss_traj' not in loss_of(model, batch())  # nothing fed
    model.feed_trajectory(batch(seed=3), 0.5)
    first = loss_of(model, batch())['traj.loss_traj']
    assert first.requires_grad and first.item() > 0
    model.feed_trajectory(None, 0.55)  # not a probe iteration
    assert 'traj.loss_traj' not in loss_of(model, batch())


def test_bad_teachers_fail_at_build_with_clear_messages(ckpts, tmp_path):
    depth = teacher_cfg(ckpts, 'depth')
    seg7 = teacher_cfg(ckpts, 'seg', key='seg7',
                       cfg_options=tiny('seg', **{'model.heads.seg.num_classes': 7}))
    with pytest.raises(ValueError, match=r"class-count mismatch: teacher 'seg' .* predicts 7 classes, .* 19"):
        build('KDStatic', ckpts, teachers=dict(seg=seg7, depth=depth))
    with pytest.raises(ValueError, match=r"teacher 'seg' .* is a depth model, but the student's 'seg' head"):
        build('KDStatic', ckpts, teachers=dict(seg=teacher_cfg(ckpts, 'depth')))
    with pytest.raises(ValueError, match=r"teacher 'normals' teaches no task of the student"):
        build('KDStatic', ckpts, teachers=dict(normals=depth))
    no_feature = teacher_cfg(ckpts, 'seg', features=None)
    with pytest.raises(KeyError, match=r"teacher 'seg' records no feature 'last'.*heads.seg.conv_seg"):
        build('JointDistill', ckpts, teachers=dict(seg=no_feature, depth=depth))
    missing = teacher_cfg(ckpts, 'seg', checkpoint=f'{tmp_path}/seg_synthdrive/final.pth')
    with pytest.raises(FileNotFoundError) as err:
        build('KDStatic', ckpts, teachers=dict(seg=missing))
    assert (f'python tools/train.py configs/teachers/seg_synthdrive.py --work-dir {tmp_path}/seg_synthdrive'
            in str(err.value)) and 'model.teachers.<name>.checkpoint' in str(err.value)


def test_teacher_checkpoint_is_a_plain_path(ckpts):
    seg = teacher_cfg(ckpts, 'seg', checkpoint=osp.join(ckpts['root'], 'seg.pth'))
    model = build('KDStatic', ckpts, teachers=dict(seg=seg),
                  weighting=dict(type='Fixed', balance='distill', weights={'kd.seg': 1.0}))
    assert model.teachers['seg'].checkpoint == osp.join(ckpts['root'], 'seg.pth')
    assert model.teacher_names == ['seg'] and set(loss_of(model, batch())) == GT_KEYS | {'kd.seg.loss_kl'}


def test_recorder_without_source_records_the_prediction_layer(ckpts):
    teacher = MODELS.build(teacher_cfg(ckpts, 'depth', features=dict(last=dict(type='ModuleInputsRecorder'))))
    assert teacher.recorders['last'].source == 'heads.depth.conv_seg' == teacher.output_layer


@pytest.mark.parametrize('path', CONFIGS)
def test_configs_build_with_spec_defaults(ckpts, path):
    cfg = Config.fromfile(path)
    model_cfg = cfg.model
    for task in ('seg', 'depth'):
        teacher = model_cfg.teachers[task]
        dataset = 'cityscapes' if 'cityscapes' in path else 'synthdrive'
        assert teacher.config == f'configs/teachers/{task}_{dataset}.py'
        assert teacher.checkpoint == f'work_dirs/{task}_{dataset}/final.pth'
        if model_cfg.get('trajectory'):
            assert model_cfg.trajectory.files[task] == f'work_dirs/{task}_{dataset}/trajectory.pth'
        teacher.update(checkpoint=ckpts[task], cfg_options=tiny(task))
    if model_cfg.type in ('KDStatic', 'JointDistill'):
        assert model_cfg.kd_losses.seg == dict(type='TemperatureKLLoss', temperature=1.0,
                                               kl_direction='teacher_student', loss_weight=1.0)
        assert model_cfg.kd_losses.depth.type == 'DepthL1Loss'
    if model_cfg.type == 'JointDistill':
        assert model_cfg.teacher_feature == 'last'
        assert cfg.train_dataloader.dataset.holdout == dict(part='train')
        hook = [h for h in cfg.custom_hooks if h['type'] == 'FeedbackHook'][0]
        assert hook['dataloader']['dataset']['holdout'] == dict(part='holdout')
        assert hook['num_updates'] == 10 and hook['scores'] == dict(seg='mIoU', depth='d1')
        HOOKS.build(copy.deepcopy(hook))
        if 'no_feedback' not in path:
            weighting = model_cfg.weighting
            assert (weighting.alpha, weighting.beta, weighting.init_weight) == (1.0, 0.5, 1.0)
            assert weighting.mode == ('gap' if 'gap' in path else 'ratio')
        else:
            assert model_cfg.weighting.type == 'Fixed'  # the one switch: FeedbackHook stays idle
        probe = [h for h in cfg.custom_hooks if h['type'] == 'TrajectoryHook'][0]['probe_dataloader']
        assert (probe['dataset']['num_images'], probe['batch_size']) == (16, 16)
        if model_cfg.trajectory is not None:
            traj = model_cfg.trajectory
            assert (traj.topk, traj.p, traj.num_milestones, traj.stride) == (64, 2.0, 8, 4)
        assert (model_cfg.connector is None) == ('no_connector' in path)
        assert (model_cfg.trajectory is None) == ('no_trajectory' in path)
    model = MODELS.build(model_cfg)
    assert model.teacher_names == ['seg', 'depth'] and model.student.task_names == ['seg', 'depth']
    if model_cfg.type == 'KD4MTL':
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        assert sum(len(g['params']) for g in wrapper.optimizer.param_groups) == len(list(model.parameters()))
