"""Domain Adaptive KD under mmengine's Runner: both optimizers saved and restored on resume (tiny synthetic
streams registered here), and a shipped SynthDrive config trained end to end on tiny rendered domains."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from jdbench.registry import DATASETS, HOOKS, MODELS
from jdbench.utils import load_state_dict_checked
from test_dakd_common import NUM_CLASSES, params, same, save_teacher, segmentor, teacher_cfg


@DATASETS.register_module(force=True)
class TinySegStream(torch.utils.data.Dataset):
    """``n`` random uint8 images (3, 64, 64) with random labels, drawn from ``seed`` (plus ``shift`` in
    brightness: another "domain")."""

    def __init__(self, n: int, seed: int, shift: int = 0) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.x = (torch.randint(0, 200, (n, 3, 64, 64), generator=gen) + shift).clamp(0, 255).to(torch.uint8)
        self.y = torch.randint(0, NUM_CLASSES, (n, 1, 64, 64), generator=gen)

    @property
    def metainfo(self) -> dict:
        return dict(classes=tuple(f'class{i}' for i in range(NUM_CLASSES)))

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        sample = SegDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64)))
        sample.gt_sem_seg = PixelData(data=self.y[i].clone())
        return dict(inputs=self.x[i].clone(), data_samples=sample)


@HOOKS.register_module(force=True)
class DAKDStateAtStart(Hook):
    """The model's and optimizers' state when training starts (after ``load_or_resume``)."""

    def before_train(self, runner) -> None:
        self.optim = copy.deepcopy(runner.optim_wrapper.state_dict())
        self.params = params(runner.model)
        self.iter = runner.iter


def _cfg(work_dir, max_iters: int, ckpt: str, **kwargs) -> Config:
    return Config(dict(
        model=dict(type='DAKD', student=segmentor(), teachers=dict(seg=teacher_cfg(ckpt))),
        work_dir=str(work_dir),
        train_dataloader=dict(
            batch_size=2, num_workers=0, sampler=dict(type='InfiniteSampler', shuffle=True),
            dataset=dict(type='MultiStreamDataset', seed=0,
                         streams=dict(source=dict(type='TinySegStream', n=6, seed=1),
                                      target=dict(type='TinySegStream', n=4, seed=2, shift=40)))),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters),
        optim_wrapper=dict(
            constructor='MultiOptimWrapperConstructor',
            student=dict(type='WeightedOptimWrapper', modules='*',
                         optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
            discriminator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3, betas=(0.9, 0.99)))),
        param_scheduler=[dict(type='MultiStepLR', milestones=[1], gamma=0.5, by_epoch=False)],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
                           logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0),
        default_scope='jdbench', log_level='WARNING', **kwargs))


@pytest.fixture(autouse=True)
def _plain_config_text(monkeypatch):
    """The runs dump their config (log, work dir, checkpoint meta) through yapf, which takes most of a tiny run's
    time; a plain repr records the same content."""
    monkeypatch.setattr(Config, 'pretty_text', property(lambda self: repr(self._cfg_dict.to_dict())))


def _train(cfg: Config) -> Runner:
    runner = Runner.from_cfg(cfg)
    # mmengine's message-hub state pickles ``getattr``, which torch>=2.6's weights_only loader rejects
    with torch.serialization.safe_globals([getattr]):
        runner.train()
    return runner


def _tree_equal(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_tree_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_tree_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    return a == b


def test_both_optimizers_are_saved_and_restored_on_resume(tmp_path):
    ckpt = str(tmp_path / 'teacher.pth')
    save_teacher(ckpt)
    first = _train(_cfg(tmp_path / 'a', 2, ckpt))
    ow = first.optim_wrapper
    assert set(ow.keys()) == {'student', 'discriminator'}
    for p in first.model.discriminator.parameters():
        assert int(ow['discriminator'].optimizer.state[p]['step']) == 2
    student_state = ow['student'].optimizer.state
    assert all('momentum_buffer' in student_state[p] for m in (first.model.student.backbone,
               first.model.student.aux_head, first.model.student.heads) for p in m.parameters())
    hub = first.message_hub
    assert hub.get_scalar('train/disc.loss_final').current() > 0
    assert hub.get_scalar('train/w.kd.seg').current() == 1

    saved_path = tmp_path / 'a' / 'iter_2.pth'
    with torch.serialization.safe_globals([getattr]):
        saved = torch.load(saved_path, map_location='cpu')
    assert set(saved['optimizer']) == {'student', 'discriminator'}
    assert not any(k.startswith('teacher') for k in saved['state_dict'])
    resumed = _train(_cfg(tmp_path / 'b', 3, ckpt, resume=True, load_from=str(saved_path),
                          custom_hooks=[dict(type='DAKDStateAtStart')]))
    start = next(h for h in resumed.hooks if isinstance(h, DAKDStateAtStart))
    assert start.iter == 2 and resumed.iter == 3
    assert _tree_equal(start.optim, saved['optimizer'])
    assert same(start.params, {k: v for k, v in saved['state_dict'].items() if k in start.params})
    for p in resumed.model.discriminator.parameters():
        assert int(resumed.optim_wrapper['discriminator'].optimizer.state[p]['step']) == 3
    # the third iteration is the one an uninterrupted run makes
    straight = _train(_cfg(tmp_path / 'c', 3, ckpt))
    assert same(params(resumed.model), params(straight.model))
    assert _tree_equal(resumed.optim_wrapper.state_dict(), straight.optim_wrapper.state_dict())


def test_synthdrive_config_trains_end_to_end(tmp_path):
    """configs/dakd/dakd_output_target_synthdrive_day2fog.py on tiny rendered domains (random-weight teacher):
    two iterations, a validation on the target, the student-only export that the plain student loads."""
    from jdbench.benchmark.config_utils import data_cfg_options
    config = 'configs/dakd/dakd_output_target_synthdrive_day2fog.py'
    cfg = Config.fromfile(config)
    teacher = MODELS.build(Config.fromfile(cfg.model.teachers.seg.config).model.student)
    torch.save({'state_dict': teacher.state_dict()}, str(tmp_path / 'teacher.pth'))
    cfg.merge_from_dict(data_cfg_options(cfg, dict(size=(32, 64), num_train=4, num_val=2, num_workers=0,
                                                   batch_size=2)))
    src, tgt = str(tmp_path / 'source'), str(tmp_path / 'target')
    cfg.merge_from_dict({
        'train_dataloader.dataset.streams.source.data_root': src,
        'train_dataloader.dataset.streams.target.data_root': tgt,
        'val_dataloader.dataset.data_root': tgt, 'test_dataloader.dataset.data_root': tgt,
        'model.teachers.seg.checkpoint': str(tmp_path / 'teacher.pth'),
        'train_cfg.max_iters': 2, 'train_cfg.val_interval': 2, 'default_hooks.logger.interval': 1,
        'default_hooks.checkpoint.interval': 2, 'visualizer.name': 'dakd_config_test',
    })
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] != 'TrainingPlotHook']
    cfg.work_dir = str(tmp_path / 'work')
    runner = _train(cfg)
    assert runner.iter == 2 and type(runner.model).__name__ == 'DAKD'
    assert runner.model.paradigm == 'output_target'
    assert any(k.startswith('val/') and k.endswith('mIoU') for k in runner.message_hub.log_scalars), list(
        runner.message_hub.log_scalars)
    final = load_state_dict_checked(osp.join(cfg.work_dir, 'final.pth'))
    plain = MODELS.build(Config.fromfile('configs/dakd/source_only_student_synthdrive_day2fog.py').model)
    plain.load_state_dict(final, strict=True)
    assert same(params(plain), params(runner.model.student))
