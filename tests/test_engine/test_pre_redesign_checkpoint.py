"""A JointDistill checkpoint written before the core redesign (tests/data/pre_redesign, made by
make_checkpoint.py with jdbench at 37586a0) resumes under the current code."""
import os.path as osp

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

from jdbench.testing import random_teachers, tiny_config, tiny_synthdrive

OLD = osp.join(osp.dirname(__file__), '..', 'data', 'pre_redesign', 'jd_tiny_iter_2.pth')
# the tiny student of make_checkpoint.py
SHRINK = {'model.student.backbone.base_channels': 4, 'model.student.backbone.stem_channels': 4,
          'model.student.neck.in_channels': [4, 8, 16, 32], 'model.student.neck.out_channels': 8,
          'model.student.heads.seg.in_channels': 8, 'model.student.heads.seg.channels': 8,
          'model.student.heads.depth.in_channels': 8, 'model.student.heads.depth.channels': 8,
          'model.connector.channels': 8}


def test_pre_redesign_checkpoint_resumes(tmp_path):
    root = tiny_synthdrive(str(tmp_path / 'data'), num_train=8, num_val=2, size=(32, 64))
    teachers = random_teachers(str(tmp_path / 'teachers'))
    cfg = tiny_config('configs/jd_synthdrive.py', root, str(tmp_path / 'work'), max_iters=4, batch_size=2,
                      cfg_options={**SHRINK, **teachers, 'train_dataloader.dataset.holdout.min_count': 2})
    for hook in cfg.custom_hooks:
        if hook['type'] == 'FeedbackHook':
            hook.update(interval=1)
            hook['dataloader']['dataset']['holdout']['min_count'] = 2
        if hook['type'] == 'TrajectoryHook':
            hook.update(interval=1)
            hook['probe_dataloader'].update(batch_size=2)
            hook['probe_dataloader']['dataset'].update(num_images=2)
            hook['probe_dataloader']['dataset']['dataset']['holdout']['min_count'] = 2
    old = torch.load(OLD, map_location='cpu', weights_only=True)
    assert 'weighting.num_feedback' in old['state_dict'] and old['meta']['iter'] == 2  # the old format
    cfg.resume, cfg.load_from = True, OLD
    runner = Runner.from_cfg(cfg)
    seen = {}
    runner.register_hook(_Spy(seen), priority='VERY_LOW')
    runner.train()
    assert runner.iter == 4 and seen['start'] == 2  # continued from iteration 2, not from scratch
    # ω and the teacher scores continued from the checkpoint (scores of old files were keyed by task)
    assert torch.equal(seen['omega'], old['state_dict']['weighting.omega'])
    feedback = next(h for h in runner.hooks if type(h).__name__ == 'FeedbackHook')
    assert feedback.teacher_scores == pytest.approx(
        {f'kd.{t}': v for t, v in old['feedback_hook']['teacher_scores'].items()})
    # the optimizer state was loaded: Adam's step counts go on from 2
    steps = {int(s['step']) for s in runner.optim_wrapper.optimizer.state.values()}
    assert steps == {4}


class _Spy(Hook):
    """Records the iteration and ω when training starts (after the resume)."""

    def __init__(self, seen):
        self.seen = seen

    def before_train(self, runner):
        self.seen.update(start=runner.iter, omega=runner.model.weighting.omega.clone())
