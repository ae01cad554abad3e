"""FeedbackHook: ω updates with known answers, the feedback split, scores, ω across checkpoint/resume."""
import json
import logging
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.dataset import BaseDataset
from mmengine.evaluator import Evaluator
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from jdbench.engine.hooks.feedback_hook import FeedbackHook
from jdbench.models.objectives import distill_objectives, task_objectives
from jdbench.registry import DATASETS, MODELS
from jdbench.weighting import build_weighting


# ---------------------------------------------------------------------------------------------- stand-ins
@DATASETS.register_module(force=True)
class FeedbackToyDataset(BaseDataset):
    """12 tiny 4x4 samples: seg = class 0 left / class 1 right, depth = 10 m. ``holdout``: the first 2.

    (12, so that no epoch ends in the 4-iteration runs: mmengine sleeps 2 s there.)
    """
    METAINFO = dict(classes=('a', 'b'))

    def __init__(self, holdout=None, num=12, **kwargs):
        self.holdout, self.num = holdout, num
        super().__init__(**kwargs)

    def load_data_list(self):
        infos = [dict(img_path=f'toy/{i}.png', idx=i) for i in range(self.num)]
        if self.holdout is None:
            return infos
        return infos[:2] if self.holdout.get('part', 'train') == 'holdout' else infos[2:]

    def prepare_data(self, idx):
        info = self.get_data_info(idx)
        seg = torch.zeros(1, 4, 4, dtype=torch.long)
        seg[..., 2:] = 1
        sample = SegDataSample(metainfo=dict(img_path=info['img_path'], ori_shape=(4, 4), img_shape=(4, 4)))
        sample.gt_sem_seg = PixelData(data=seg)
        sample.gt_depth_map = PixelData(data=torch.full((1, 4, 4), 10.0))
        return dict(inputs=torch.full((3, 4, 4), info['idx'], dtype=torch.uint8), data_samples=sample)


class PerfectStudent(nn.Module):
    """Predicts the ground truth: mIoU 100, δ<1.25 = 1."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))

    def task_kind(self, task):
        return task

    def forward(self, inputs=None, data_samples=None, mode='tensor'):
        assert mode == 'predict' and not self.training
        for s in data_samples:
            s.pred_sem_seg = PixelData(data=s.gt_sem_seg.data.clone())
            s.pred_depth_map = PixelData(data=s.gt_depth_map.data.clone())
        return data_samples


class StubTeacher(nn.Module):
    """seg: class 0 everywhere (IoU 0.5 and 0 -> mIoU 25); depth: 1.5x too far on the left half (δ1 0.5)."""
    calls = 0

    def __init__(self, kind):
        super().__init__()
        self.kind = kind
        self.model = nn.Identity()

    def predict(self, inputs, data_samples):
        StubTeacher.calls += 1
        for s in data_samples:
            if self.kind == 'seg':
                s.pred_sem_seg = PixelData(data=torch.zeros_like(s.gt_sem_seg.data))
            else:
                depth = s.gt_depth_map.data.clone()
                depth[..., :2] *= 1.5
                s.pred_depth_map = PixelData(data=depth)
        return data_samples


@MODELS.register_module(force=True)
class FeedbackToyDistiller(BaseModel):
    """Stand-in for JointDistill: ``student``, ``teachers`` (plain dict), the Feedback ``weighting``."""

    def __init__(self, data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor or dict(
            type='JointDataPreProcessor', mean=[0., 0., 0.], std=[1., 1., 1.], size_divisor=4))
        self.student = PerfectStudent()
        self.teachers = dict(seg=StubTeacher('seg'), depth=StubTeacher('depth'))
        self.weighting = build_weighting(dict(type='Feedback'), objectives=self.objectives())

    def objectives(self):
        return task_objectives(['seg', 'depth']) + distill_objectives(['seg', 'depth'])

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return dict(loss=(self.student.w**2).sum() + 0 * inputs.float().mean())


def _fake_runner(tmp_path, model=None, train_dataset=None, max_iters=10):
    """What the hook uses of mmengine's Runner, with the Runner's own dataloader builder."""
    if train_dataset is None:
        train_dataset = DATASETS.build(_toy_loader('train')['dataset'])
    return SimpleNamespace(model=model or FeedbackToyDistiller(), iter=0, max_iters=max_iters,
                           work_dir=str(tmp_path), build_dataloader=Runner.build_dataloader,
                           build_evaluator=lambda cfg: Evaluator(cfg),
                           message_hub=MessageHub.get_instance('feedback-hook-test'),
                           train_dataloader=SimpleNamespace(dataset=train_dataset))


def _toy_loader(part='train', batch_size=8):
    return dict(batch_size=batch_size, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False, seed=0),
                collate_fn=dict(type='pseudo_collate'),
                dataset=dict(type='FeedbackToyDataset',
                             holdout=dict(fraction=0.05, min_count=2, seed=0, part=part)))


# ---------------------------------------------------------------------------------------------- known answers
def test_update_matches_hand_computation(tmp_path):
    runner = _fake_runner(tmp_path, max_iters=10)
    hook = FeedbackHook(_toy_loader('holdout'), interval=5, teacher_scores={'kd.seg': 80.0, 'kd.depth': 0.8})
    hook.student_scores = lambda r: {'kd.seg': 40.0, 'kd.depth': 0.6}
    hook.before_train(runner)
    weighting = runner.model.weighting
    assert weighting.omega.tolist() == [1.0, 1.0]
    for it in range(4):  # no update before iteration 5
        runner.iter = it
        hook.after_train_iter(runner, it)
    assert weighting.omega.tolist() == [1.0, 1.0]
    runner.iter = 4
    hook.after_train_iter(runner, 4)
    # a = (0.5, 0.75), mean(ω) = 1, α = 1 -> target = a; ω - 0.5 ω (ω - target) = (0.75, 0.875); sum -> 2
    expected = [0.75 * 2 / 1.625, 0.875 * 2 / 1.625]
    assert weighting.omega.tolist() == pytest.approx(expected)
    assert runner.message_hub.get_scalar('train/feedback.w.seg').current() == pytest.approx(expected[0])
    history = json.load(open(osp.join(tmp_path, 'omega_history.json')))['history']
    assert [h['iter'] for h in history] == [0, 5]
    assert history[1]['omega'] == pytest.approx(dict(seg=expected[0], depth=expected[1]))
    assert history[1]['ratio'] == pytest.approx(dict(seg=0.5, depth=0.75))


def test_interval_defaults_to_ten_updates_per_run(tmp_path):
    runner = _fake_runner(tmp_path, max_iters=2000)
    hook = FeedbackHook(_toy_loader('holdout'), teacher_scores={'kd.seg': 1.0, 'kd.depth': 1.0})
    hook.before_train(runner)
    assert hook.interval == 200


def test_one_switch_a_strategy_without_feedback_leaves_the_hook_idle(tmp_path):
    model = FeedbackToyDistiller()
    model.weighting = build_weighting(dict(type='Fixed', balance='distill', weights={'kd.seg': 1., 'kd.depth': 1.}),
                                      objectives=model.objectives())
    runner = _fake_runner(tmp_path, model=model)
    hook = FeedbackHook(_toy_loader('holdout'), interval=1)
    StubTeacher.calls = 0
    hook.before_train(runner)
    hook.after_train_iter(runner, 0)
    assert not hook.enabled and hook._loader is None and StubTeacher.calls == 0
    assert not osp.exists(osp.join(tmp_path, 'omega_history.json'))


def test_scores_on_the_feedback_split(tmp_path):
    runner = _fake_runner(tmp_path)
    hook = FeedbackHook(_toy_loader('holdout'))
    assert hook.teacher_scores_of(runner) == pytest.approx({'kd.seg': 25.0, 'kd.depth': 0.5})
    assert hook.student_scores(runner) == pytest.approx({'kd.seg': 100.0, 'kd.depth': 1.0})
    assert len(hook._loader.dataset) == 2 and hook._loader.batch_size == 8  # the held-out part, batched
    single = FeedbackHook(_toy_loader('holdout', batch_size=1))
    assert single.student_scores(runner) == pytest.approx({'kd.seg': 100.0, 'kd.depth': 1.0})
    inverse = FeedbackHook(_toy_loader('holdout'), scores=dict(depth='1/abs_rel'))
    assert inverse.teacher_scores_of(runner)['kd.depth'] == pytest.approx(1 / 0.25)  # abs_rel 0.5 on half


def test_feedback_split_must_be_held_out(tmp_path):
    overlap = _fake_runner(tmp_path, train_dataset=DATASETS.build(dict(type='FeedbackToyDataset')))
    with pytest.raises(ValueError, match='2 feedback images are also training images'):
        FeedbackHook(_toy_loader('holdout')).student_scores(overlap)
    with pytest.raises(ValueError, match='must grow with quality'):
        FeedbackHook(_toy_loader('holdout'), scores=dict(depth='abs_rel'))


# ---------------------------------------------------------------------------------------------- checkpoints
def _runner_cfg(work_dir, **over):
    return Config(dict(
        model=dict(type='FeedbackToyDistiller'),
        work_dir=str(work_dir),
        train_dataloader=_toy_loader('train'),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=4),
        optim_wrapper=dict(type='WeightedOptimWrapper', optimizer=dict(type='SGD', lr=0.1)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
                           logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[dict(type='FeedbackHook', dataloader=_toy_loader('holdout'), interval=2)],
        log_processor=dict(by_epoch=False),
        default_scope='jdbench',
        randomness=dict(seed=0),
        **over))


# student r = (100, 1), teachers r = (25, 0.5): a = (4, 2), target = mean(ω) * a
STEP1 = [1.25, 0.75]  # (1 + 1.5, 1 + 0.5) = (2.5, 1.5), renormalised to sum 2
STEP2 = [2.96875 * 2 / 4.1875, 1.21875 * 2 / 4.1875]  # from (1.25, 0.75): 1.25 + 1.71875, 0.75 + 0.46875


def test_omega_and_teacher_scores_survive_resume(tmp_path):
    StubTeacher.calls = 0
    first = Runner.from_cfg(_runner_cfg(tmp_path / 'a'))
    first.train()
    assert first.model.weighting.omega.tolist() == pytest.approx(STEP2)
    assert StubTeacher.calls > 0
    ckpt = torch.load(osp.join(tmp_path, 'a', 'iter_2.pth'), weights_only=True)
    assert ckpt['state_dict']['weighting.omega'].tolist() == pytest.approx(STEP1)
    assert ckpt['feedback_hook']['teacher_scores'] == pytest.approx({'kd.seg': 25.0, 'kd.depth': 0.5})

    StubTeacher.calls = 0
    ckpt_2 = osp.join(tmp_path, 'a', 'iter_2.pth')
    resumed = Runner.from_cfg(_runner_cfg(tmp_path / 'b', resume=True, load_from=ckpt_2))
    resumed.train()
    assert StubTeacher.calls == 0  # teacher scores restored from the checkpoint, not re-evaluated
    assert resumed.model.weighting.omega.tolist() == pytest.approx(STEP2)  # continued from the loaded ω
    history = json.load(open(osp.join(tmp_path, 'b', 'omega_history.json')))['history']
    assert [h['iter'] for h in history] == [0, 2, 4]
    assert history[1]['omega'] == pytest.approx(dict(seg=STEP1[0], depth=STEP1[1]))


# ---------------------------------------------------------------------------------------------- DDP
def _ddp_worker(rank, world, port, out_dir):
    import os

    import torch.distributed as dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    try:
        torch.set_num_threads(1)
        runner = _fake_runner(osp.join(out_dir, str(rank)), max_iters=10)
        hook = FeedbackHook(_toy_loader('holdout', batch_size=1), interval=5)
        hook.before_train(runner)
        runner.iter = 4
        hook.after_train_iter(runner, 4)
        with open(osp.join(out_dir, f'rank{rank}.json'), 'w') as f:
            json.dump(dict(omega=runner.model.weighting.omega.tolist(), teacher=hook.teacher_scores,
                           images=len(hook._loader.sampler)), f)
    finally:
        dist.destroy_process_group()


def test_omega_identical_on_every_rank(tmp_path):
    """Each rank scores its share of the feedback split; the evaluator gathers them, so every rank sees the
    whole split's scores and makes the same update."""
    import socket

    import torch.distributed as dist
    import torch.multiprocessing as mp
    if not dist.is_available() or not dist.is_gloo_available() or 'fork' not in mp.get_all_start_methods():
        pytest.skip('needs gloo and fork')
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    from jdbench.testing import run_processes
    run_processes(_ddp_worker, nprocs=2, args=(2, port, str(tmp_path)), start_method='fork')
    results = [json.load(open(osp.join(tmp_path, f'rank{r}.json'))) for r in range(2)]
    for res in results:
        assert res['omega'] == pytest.approx(STEP1)  # the single-process answer
        assert res['teacher'] == pytest.approx({'kd.seg': 25.0, 'kd.depth': 0.5})
        assert res['images'] == 1  # each rank scored one of the two feedback images


def test_batched_feedback_scores_equal_one_image_at_a_time(tmp_path):
    """On real SynthDrive data and the real student, the default batched evaluation changes no score."""
    from jdbench.testing import tiny_config, tiny_synthdrive
    root = tiny_synthdrive(str(tmp_path / 'data'), num_train=10, num_val=2, size=(32, 64))
    cfg = tiny_config('configs/jd_synthdrive.py', root, str(tmp_path / 'w'),
                      cfg_options={'feedback_dataloader.dataset.holdout.min_count': 5})
    torch.manual_seed(0)
    student = MODELS.build(Config.fromfile('configs/baselines/mtl_synthdrive.py').model).eval()
    predict = lambda x, s: student(inputs=x, data_samples=s, mode='predict')  # noqa: E731
    tasks = dict(seg='seg', depth='depth')
    model = SimpleNamespace(data_preprocessor=student.data_preprocessor, teachers={}, student=student)
    train = DATASETS.build(dict(cfg.train_dataloader.dataset, holdout=dict(min_count=5, part='train')))
    scores = {}
    for batch_size in (1, 8):
        loader = dict(cfg.feedback_dataloader, batch_size=batch_size)
        hook = FeedbackHook(loader, scores=dict(depth='1/abs_rel'))
        runner = _fake_runner(tmp_path, model=model, train_dataset=train)
        scores[batch_size] = hook.evaluate(runner, predict, tasks)
        assert len(hook._loader.dataset) == 5 and hook._loader.batch_size == batch_size
    assert scores[8] == pytest.approx(scores[1], rel=1e-5)
    assert 0 < scores[1]['seg'] < 100 and scores[1]['depth'] > 0
    mixed = dict(cfg.feedback_dataloader)
    mixed['dataset'] = dict(mixed['dataset'], pipeline=[cfg.test_pipeline[0], dict(
        type='RandomResize', scale=(64, 32), ratio_range=(0.5, 2.0), keep_ratio=True), *cfg.test_pipeline[2:]])
    with pytest.raises(ValueError, match=r'images of sizes .* set feedback_dataloader.batch_size=1'):
        FeedbackHook(mixed).evaluate(_fake_runner(tmp_path, model=model, train_dataset=train), predict, tasks)
