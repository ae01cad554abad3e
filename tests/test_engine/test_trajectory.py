"""Knowledge trajectory: attention maps, essential points, milestones, decayed loss, file, fallbacks."""
import logging
import math
import os.path as osp
from types import SimpleNamespace

import mmcv
import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.dataset import BaseDataset
from mmengine.logging import MMLogger

from jdbench.engine.hooks.trajectory_hook import (TrajectoryHook, TrajectoryRecorderHook, load_probe,
                                                  milestone_iters)
from jdbench.models.distillers import JointDistill
from jdbench.models.trajectory import (TrajectoryDistillLoss, attention_map, essential_points, gather_points,
                                       load_trajectory, save_trajectory, select_milestone, trajectory_loss)
from jdbench.registry import DATASETS, MODELS

# ---------------------------------------------------------------------------------------------- stand-ins
PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackSegInputs')]


@DATASETS.register_module(force=True)
class TrajToyImages(BaseDataset):
    """The PNG files under ``data_root/img`` (a stand-in training split)."""
    METAINFO = dict(classes=('a', 'b', 'c'))

    def load_data_list(self):
        folder = osp.join(self.data_root, 'img')
        return [dict(img_path=osp.join(folder, f'{i:02d}.png')) for i in range(8)]


def _tiny_model_cfg(num_classes=3):
    norm = dict(type='BN', requires_grad=True)
    return dict(
        type='JointStudent',
        data_preprocessor=dict(type='JointDataPreProcessor', mean=[0., 0., 0.], std=[255., 255., 255.]),
        backbone=dict(type='ResNetV1c', depth=18, base_channels=4, stem_channels=4, num_stages=2,
                      out_indices=(0, 1), strides=(1, 2), dilations=(1, 1), norm_cfg=norm),
        neck=dict(type='mmdet.FPN', in_channels=[4, 8], out_channels=8, num_outs=2),
        heads=dict(seg=dict(type='FCNHead', in_channels=8, in_index=0, channels=8, num_convs=1,
                            concat_input=False, dropout_ratio=0.0, num_classes=num_classes, norm_cfg=norm,
                            align_corners=False)))


class _Distiller(nn.Module):
    """JointDistill's trajectory part alone: ``student``, ``teachers`` (a plain dict), ``data_preprocessor``,
    ``trajectory`` and JointDistill's own methods that feed and compute the term."""
    feed_trajectory = JointDistill.feed_trajectory
    trajectory_terms = JointDistill.trajectory_terms
    _probe_forward = JointDistill._probe_forward
    _student_tensor = JointDistill._student_tensor
    _final_targets = JointDistill._final_targets

    def __init__(self, student, teachers, trajectory=None):
        super().__init__()
        self.student = student
        self.teachers = teachers
        self.data_preprocessor = MODELS.build(dict(type='JointDataPreProcessor', mean=[0., 0., 0.],
                                                   std=[255., 255., 255.]))
        self.trajectory = trajectory
        if trajectory is not None:
            trajectory.prepare(student, teachers)

    def terms(self, probe, progress):
        """The trajectory term after the hook fed ``probe`` at ``progress``."""
        self.feed_trajectory(probe, progress)
        return self.trajectory_terms()


class _Teacher(nn.Module):
    """Stand-in for jdbench's frozen ``Teacher`` wrapper: ``.model``, ``.checkpoint``, ``forward(inputs)``."""

    def __init__(self, model, checkpoint=None):
        super().__init__()
        self.model = model.eval()
        self.checkpoint = checkpoint
        self.output_layer = 'heads.seg.conv_seg'

    @torch.no_grad()
    def forward(self, inputs):
        return self.model(inputs=inputs, mode='tensor')


@pytest.fixture()
def data_root(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(8):
        img = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
        mmcv.imwrite(img, str(tmp_path / 'img' / f'{i:02d}.png'))
    return str(tmp_path)


def _probe(data_root, n=4, seed=0):
    """A probe_dataloader config: n of the 8 toy images, batches of 3."""
    return dict(batch_size=3, dataset=dict(type='ProbeSubset', num_images=n, seed=seed,
                                           dataset=dict(type='TrajToyImages', data_root=data_root,
                                                        pipeline=PIPELINE)))


def _student(seed=0):
    torch.manual_seed(seed)
    return MODELS.build(_tiny_model_cfg())


@pytest.fixture()
def logs():
    """Messages logged to the current MMLogger during the test."""
    records = []
    handler = logging.Handler()
    handler.emit = lambda r: records.append(r.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


# ---------------------------------------------------------------------------------------------- pure parts
def test_attention_map_of_known_tensor():
    feat = torch.tensor([[[[1., 2.]], [[3., 0.]]]])  # (1, C=2, H=1, W=2)
    amap = attention_map(feat, p=2)
    # mean_c |F|^2 = [(1 + 9) / 2, (4 + 0) / 2] = [5, 2], L2-normalised
    assert torch.allclose(amap, torch.tensor([[5., 2.]]) / math.sqrt(29.))
    amap1 = attention_map(-feat, p=1)  # |F|: sign does not matter; mean_c = [2, 1]
    assert torch.allclose(amap1, torch.tensor([[2., 1.]]) / math.sqrt(5.))
    up = attention_map(torch.ones(2, 3, 2, 2), size=(4, 4))  # resized to one grid, norm 1 per image
    assert up.shape == (2, 16) and torch.allclose(up.norm(dim=1), torch.ones(2))
    assert torch.allclose(up, torch.full((2, 16), 0.25))


def test_essential_points_of_crafted_map():
    maps = torch.tensor([[0.1, 0.9, 0.3, 0.8, 0.0, 0.5]])  # a 2x3 grid
    pos, val = essential_points(maps, k=3, width=3)
    assert pos.tolist() == [[[0, 1], [1, 0], [1, 2]]]
    assert torch.allclose(val, torch.tensor([[0.9, 0.8, 0.5]]))
    assert torch.equal(gather_points(maps, pos, 3), val)
    with pytest.raises(ValueError, match='topk=7'):
        essential_points(maps, k=7, width=3)


def test_milestone_selection():
    fr = [j / 8 for j in range(1, 9)]
    assert select_milestone(fr, 0.0) == 0
    assert select_milestone(fr, 0.3) == 1  # 0.25 is closer than 0.375
    assert select_milestone(fr, 0.32) == 2
    assert select_milestone(fr, 0.1875) == 1  # tie between 0.125 and 0.25 -> the later
    assert select_milestone(fr, 1.0) == 7
    assert select_milestone(fr, 0.3, 'next') == 2 and select_milestone(fr, 0.99, 'next') == 7
    assert select_milestone(fr, 0.3, 'previous') == 1 and select_milestone(fr, 0.05, 'previous') == 0
    assert milestone_iters(2000, 8) == [250, 500, 750, 1000, 1250, 1500, 1750, 2000]
    assert milestone_iters(10, 4) == [2, 5, 8, 10]


def test_decayed_loss_equals_hand_value():
    student = torch.tensor([[0.1, 0.2, 0.3, 0.4]], requires_grad=True)  # M=1, a 1x4 grid
    # (K=3, M=1, k=2, 2) positions and (K, M, k) values
    positions = torch.tensor([[[[0, 0], [0, 1]]], [[[0, 2], [0, 3]]], [[[0, 3], [0, 0]]]])
    values = torch.tensor([[[0.0, 0.0]], [[0.3, 0.0]], [[1.0, 0.1]]])
    # mean |A_S - A_T| per milestone: m0 (0.1 + 0.2) / 2 = 0.15, m1 (0 + 0.4) / 2 = 0.2,
    # m2 (0.6 + 0) / 2 = 0.3
    loss = trajectory_loss(student, positions, values, width=4, index=2, gamma=0.5)
    assert loss.item() == pytest.approx(0.3 + 0.5 * 0.2 + 0.25 * 0.15)  # 0.4375
    assert trajectory_loss(student, positions, values, 4, 1, 0.5).item() == pytest.approx(0.2 + 0.5 * 0.15)
    assert trajectory_loss(student, positions, values, 4, 2, 0.0).item() == pytest.approx(0.3)
    normalized = trajectory_loss(student, positions, values, 4, 2, 0.5, normalize=True)
    assert normalized.item() == pytest.approx(0.4375 / 1.75)
    loss.backward()  # d/dA_S[3]: m2 -0.5 (0.4 < 1.0), m1 +0.5 * 0.5 (0.4 > 0.0) -> -0.25
    assert student.grad[0, 3].item() == pytest.approx(-0.25)


def _record(k=2, m=2, n_ms=3, probe_hash='0' * 40):
    return dict(task='seg', feature='heads.seg.conv_seg', feature_io='input', p=2.0, k=k, stride=4,
                size=[8, 8], input_size=[32, 32], probe_paths=[f'img/{i:02d}.png' for i in range(m)],
                probe_hash=probe_hash, milestones=[(j + 1) / n_ms for j in range(n_ms)],
                milestone_iters=[j + 1 for j in range(n_ms)],
                max_iters=n_ms, complete=True, positions=torch.randint(0, 8, (n_ms, m, k, 2)),
                values=torch.rand(n_ms, m, k))


def test_trajectory_file_round_trip(tmp_path):
    rec = _record()
    path = str(tmp_path / 'trajectory.pth')
    save_trajectory(rec, path)
    # only plain types: readable with weights_only=True
    raw = torch.load(path, weights_only=True)
    assert raw['format'] == 'jdbench.trajectory' and raw['positions'].dtype == torch.int32
    back = load_trajectory(path)
    for key, value in rec.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(back[key].to(value.dtype), value)
        else:
            assert back[key] == value
    bad = dict(rec, positions=rec['positions'][:2], values=rec['values'][:2])  # 2 milestones of 3
    with pytest.raises(ValueError, match='do not match K=3'):
        save_trajectory(bad, str(tmp_path / 'bad.pth'))


# ---------------------------------------------------------------------------------------------- probe + hooks
def test_probe_set_is_deterministic_and_order_independent(data_root):
    a, b = load_probe(_probe(data_root)), load_probe(_probe(data_root))
    assert a.keys == b.keys and a.hash == b.hash and len(a.keys) == 4
    assert all(k.startswith('img/') for k in a.keys)
    assert load_probe(_probe(data_root, seed=1)).hash != a.hash
    assert [len(batch['inputs']) for batch in a.batches] == [3, 1]  # batch_size 3
    # the images of the batches are the probe images, in probe order
    paths = [s.img_path for batch in a.batches for s in batch['data_samples']]
    assert [osp.relpath(p, data_root) for p in paths] == a.keys


def test_loading_the_probe_draws_no_random_number(data_root):
    torch.manual_seed(3)
    np.random.seed(3)
    expected = torch.rand(1), np.random.rand()
    torch.manual_seed(3)
    np.random.seed(3)
    load_probe(_probe(data_root))
    assert torch.equal(torch.rand(1), expected[0]) and np.random.rand() == expected[1]


def _fake_runner(model, work_dir, max_iters):
    return SimpleNamespace(model=model, work_dir=work_dir, iter=0, max_iters=max_iters)


def _train(hook, runner, start, stop):
    for it in range(start, stop):
        runner.iter = it
        hook.after_train_iter(runner, it)


def test_recorder_hook_writes_trajectory_and_resumes(data_root, tmp_path):
    model = _student()
    runner = _fake_runner(model, str(tmp_path / 'teacher'), max_iters=8)
    hook = TrajectoryRecorderHook(_probe(data_root), num_milestones=4, topk=5)
    hook.before_train(runner)
    _train(hook, runner, 0, 8)
    traj = load_trajectory(str(tmp_path / 'teacher' / 'trajectory.pth'))
    assert traj['milestones'] == [0.25, 0.5, 0.75, 1.0] and traj['milestone_iters'] == [2, 4, 6, 8]
    assert traj['positions'].shape == (4, 4, 5, 2) and traj['values'].shape == (4, 4, 5)  # K, M, k(, 2)
    assert traj['size'] == [8, 8] and traj['input_size'] == [32, 32] and traj['complete']
    assert traj['feature'] == 'heads.seg.conv_seg' and traj['task'] == 'seg'
    assert traj['probe_hash'] == load_probe(_probe(data_root)).hash
    assert model.training  # recording runs in eval mode and restores train mode
    # the values are the teacher's own attention maps at the recorded positions
    maps, _, _ = hook.attention(model)
    assert torch.allclose(gather_points(maps, traj['positions'][-1], 8), traj['values'][-1], atol=1e-6)

    # resume after iteration 5 (4 done -> milestones 2 and 4 kept, 6 and 8 recorded again)
    hook2 = TrajectoryRecorderHook(_probe(data_root), num_milestones=4, topk=5)
    runner.iter = 5
    hook2.before_train(runner)
    assert hook2.record['milestone_iters'] == [2, 4]
    _train(hook2, runner, 5, 8)
    assert load_trajectory(str(tmp_path / 'teacher' / 'trajectory.pth'))['milestone_iters'] == [2, 4, 6, 8]


def test_recorder_hook_rejects_unknown_feature(data_root, tmp_path):
    runner = _fake_runner(_student(), str(tmp_path), max_iters=4)
    hook = TrajectoryRecorderHook(_probe(data_root), feature='heads.seg.conv_sg')
    with pytest.raises(KeyError, match="'heads.seg.conv_sg'.*heads.seg.conv_seg"):
        hook.before_train(runner)


def test_trajectory_hook_feeds_probe_every_interval(data_root):
    """The hook's one narrow call: the probe set every `interval` iterations (None otherwise) and the
    progress iteration / max_iters, before each iteration; idle without a trajectory term."""
    calls = []
    model = SimpleNamespace(trajectory=object(), feed_trajectory=lambda probe, s: calls.append((probe, s)))
    runner = _fake_runner(model, '', max_iters=10)
    hook = TrajectoryHook(_probe(data_root), interval=4)
    hook.before_train(runner)
    for it in range(6):
        runner.iter = it
        hook.before_train_iter(runner, it)
    assert [p is not None for p, _ in calls] == [True, False, False, False, True, False]
    assert [s for _, s in calls] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    assert calls[0][0].hash == load_probe(_probe(data_root)).hash

    idle = SimpleNamespace(trajectory=None, feed_trajectory=lambda *a: calls.append(a))
    hook = TrajectoryHook(_probe(data_root))
    hook.before_train(_fake_runner(idle, '', 10))
    n = len(calls)
    hook.before_train_iter(_fake_runner(idle, '', 10), 0)
    assert len(calls) == n and hook.probe is None
    with pytest.raises(TypeError, match='feed_trajectory'):
        TrajectoryHook(_probe(data_root)).before_train(_fake_runner(nn.Linear(1, 1), '', 10))


# ---------------------------------------------------------------------------------------------- the loss
def _recorded_file(data_root, tmp_path, max_iters=8):
    teacher = _student(seed=1)
    runner = _fake_runner(teacher, str(tmp_path / 'seg_teacher'), max_iters=max_iters)
    hook = TrajectoryRecorderHook(_probe(data_root), num_milestones=4, topk=5)
    hook.before_train(runner)
    _train(hook, runner, 0, max_iters)
    return hook.path, teacher


def test_loss_follows_recorded_trajectory(data_root, tmp_path, logs):
    path, teacher_model = _recorded_file(data_root, tmp_path)
    loss = TrajectoryDistillLoss(files=dict(seg=path), gamma=0.5, loss_weight=2.0)
    distiller = _Distiller(_student(), dict(seg=_Teacher(teacher_model)), loss)
    assert loss.used_sources == {'seg': 'recorded'}
    assert any("source='recorded'" in m for m in logs)
    probe = load_probe(_probe(data_root))
    distiller.feed_trajectory(None, 0.15)
    assert distiller._probe is None  # not a probe step: JointDistill.loss adds no term
    out = distiller.terms(probe, 0.5)  # s = 0.5 -> milestone 0.5 (index 1) + 0.5 * milestone 0.25
    assert set(out) == {'traj.loss_traj'}
    traj = load_trajectory(path)
    with torch.no_grad():
        from jdbench.models.trajectory import probe_mode
        with probe_mode(distiller.student, 'train'):
            feats = []
            for batch in probe.batches:
                data = distiller.data_preprocessor(batch, False)
                x = distiller.student.extract_feat(data['inputs'])
                head = distiller.student.heads.seg
                feats.append(attention_map(head.convs(head._transform_inputs(list(x))), 2.0, (8, 8)))
        maps = torch.cat(feats)
    expected = 2.0 * trajectory_loss(maps, traj['positions'], traj['values'], 8, 1, 0.5)
    assert out['traj.loss_traj'].item() == pytest.approx(expected.item(), rel=1e-5)
    out['traj.loss_traj'].backward()
    grads = [p.grad for p in distiller.student.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)  # back-propagates into the student


def test_student_train_mode_keeps_bn_statistics(data_root, tmp_path):
    path, teacher_model = _recorded_file(data_root, tmp_path)
    distiller = _Distiller(_student(), dict(seg=_Teacher(teacher_model)), TrajectoryDistillLoss(files=dict(seg=path)))
    before = {k: v.clone() for k, v in distiller.student.state_dict().items()
              if 'running' in k or 'tracked' in k}
    distiller.terms(load_probe(_probe(data_root)), 0.0)
    after = distiller.student.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in before.items())
    assert distiller.student.training


def test_probe_hash_mismatch_is_a_clear_error(data_root, tmp_path):
    path = str(tmp_path / 'foreign.pth')
    save_trajectory(_record(k=5, m=4, probe_hash='f' * 40), path)
    distiller = _Distiller(_student(), dict(seg=_Teacher(_student(1))), TrajectoryDistillLoss(files=dict(seg=path)))
    probe = load_probe(_probe(data_root))
    with pytest.raises(ValueError, match=f'(?s)recorded on probe set {"f" * 40}.*probe set is {probe.hash}'):
        distiller.terms(probe, 0.0)


def test_missing_file_falls_back_to_final(data_root, tmp_path, logs):
    teacher = _Teacher(_student(seed=1))
    missing = str(tmp_path / 'none' / 'trajectory.pth')
    loss = TrajectoryDistillLoss(files=dict(seg=missing), fallback='final', topk=5)
    distiller = _Distiller(_student(), dict(seg=teacher), loss)
    assert loss.used_sources == {'seg': 'final'}
    assert any('no recorded trajectory' in m and "falling back to source='final'" in m for m in logs)
    out = distiller.terms(load_probe(_probe(data_root)), 0.0)
    tgt = loss._targets['seg']
    assert tgt['milestones'] == [1.0] and tgt['positions'].shape == (1, 4, 5, 2)
    # the target is the frozen teacher's own top-5 attention on the probe set
    hook = TrajectoryRecorderHook(_probe(data_root), topk=5)
    hook.feature_path, hook.feature_io, hook.p, hook.stride = 'heads.seg.conv_seg', 'input', 2.0, 4
    hook.probe = load_probe(_probe(data_root))
    tmaps, _, _ = hook.attention(teacher.model)
    assert torch.allclose(tgt['values'][0], tmaps.topk(5, dim=1).values, atol=1e-6)
    assert out['traj.loss_traj'].item() > 0

    strict = TrajectoryDistillLoss(files=dict(seg=missing), fallback=None)
    with pytest.raises(FileNotFoundError, match='no recorded trajectory'):
        strict.prepare(distiller.student, distiller.teachers)


def test_student_source_records_own_milestones_and_checkpoints_them(data_root):
    cfg = dict(source='student', num_milestones=4, topk=5)
    loss = TrajectoryDistillLoss(**cfg)
    distiller = _Distiller(_student(), dict(seg=_Teacher(_student(1))), loss)
    probe = load_probe(_probe(data_root))
    assert distiller.terms(probe, 1 / 8) == {}  # s = 0.125: no past milestone yet
    first = distiller.terms(probe, 2 / 8)  # s = 0.25: milestone recorded after the loss is computed
    assert first == {} and loss._student_traj['seg']['milestones'] == [0.25]
    out = distiller.terms(probe, 3 / 8)
    assert out['traj.loss_traj'].item() == pytest.approx(0.0, abs=1e-6)  # same weights as at the milestone
    state = loss.state_dict()
    fresh = TrajectoryDistillLoss(**cfg)
    fresh.load_state_dict(state)
    assert fresh._student_traj['seg']['milestones'] == [0.25]
    assert torch.equal(fresh._student_traj['seg']['values'][0], loss._student_traj['seg']['values'][0])


def test_unknown_student_feature_is_a_clear_error():
    loss = TrajectoryDistillLoss(student_feature='heads.{task}.classifier')
    with pytest.raises(KeyError, match="feature path 'heads.seg.classifier' does not exist in the student"):
        loss.prepare(_student(), dict(seg=_Teacher(_student(1))))


def test_pre_redesign_arguments_say_where_they_went():
    with pytest.raises(TypeError, match=r"\['interval'\] now belong to TrajectoryHook"):
        TrajectoryDistillLoss(interval=20)
