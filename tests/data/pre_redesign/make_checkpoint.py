# Written with jdbench at commit 37586a0 (before the core redesign) on PYTHONPATH: a tiny JointDistill run whose
# iteration-2 checkpoint is tests/data/pre_redesign/jd_tiny_iter_2.pth (python make_checkpoint.py OUT.pth).
import os, os.path as osp, shutil, sys, tempfile
import torch
from mmengine.runner import Runner
import jdbench
from jdbench.testing import random_teachers, tiny_config, tiny_synthdrive
jdbench.register_all_modules(init_default_scope=True)
tmp = tempfile.mkdtemp()
root = tiny_synthdrive(osp.join(tmp, 'data'), num_train=8, num_val=2, size=(32, 64))
teachers = random_teachers(osp.join(tmp, 'teachers'))
SHRINK = {'model.student.backbone.base_channels': 4, 'model.student.backbone.stem_channels': 4,
          'model.student.neck.in_channels': [4, 8, 16, 32], 'model.student.neck.out_channels': 8,
          'model.student.heads.seg.in_channels': 8, 'model.student.heads.seg.channels': 8,
          'model.student.heads.depth.in_channels': 8, 'model.student.heads.depth.channels': 8,
          'model.connector.channels': 8}
cfg = tiny_config('configs/jd_synthdrive.py', root, osp.join(tmp, 'work'), max_iters=2, batch_size=2,
                  cfg_options={**SHRINK, 'model.teacher_work_dir': teachers,
                               'train_dataloader.dataset.holdout.min_count': 2,
                               'model.trajectory.interval': 1, 'model.trajectory.probe.num_images': 2,
                               'model.trajectory.probe.batch_size': 2})
for hook in cfg.custom_hooks:
    if hook['type'] == 'FeedbackHook':
        hook['interval'] = 1
Runner.from_cfg(cfg).train()
shutil.copy(osp.join(tmp, 'work', 'iter_2.pth'), sys.argv[1])
print('written', sys.argv[1], osp.getsize(sys.argv[1]))
