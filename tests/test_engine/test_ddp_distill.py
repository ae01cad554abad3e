"""JointDistill under DDP: 2 CPU processes on gloo through tools/train.py --launcher pytorch."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import torch

from jdbench.testing import random_teachers, tiny_config, tiny_synthdrive


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_jointdistill_trains_under_ddp_on_two_cpu_processes(tmp_path):
    data_root = tiny_synthdrive(str(tmp_path / 'data'), num_train=8, num_val=2, size=(32, 64))
    teachers = random_teachers(str(tmp_path / 'teachers'))  # what is tested is the distributed mechanics
    cfg = tiny_config('configs/jd_synthdrive.py', data_root, str(tmp_path / 'work'), max_iters=4, batch_size=1,
                      cfg_options={**teachers, 'train_dataloader.dataset.holdout.min_count': 2})
    for hook in cfg.custom_hooks:
        if hook['type'] == 'FeedbackHook':
            hook['num_updates'] = 2
            hook['dataloader']['dataset']['holdout']['min_count'] = 2
        if hook['type'] == 'TrajectoryHook':
            hook['interval'] = 2
            hook['probe_dataloader']['dataset']['num_images'] = 2
            hook['probe_dataloader']['dataset']['dataset']['holdout']['min_count'] = 2
    cfg_path = str(tmp_path / 'jd_ddp.py')
    cfg.dump(cfg_path)
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=os.getcwd())
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2', f'--master_port={_free_port()}',
           'tools/train.py', cfg_path, '--launcher', 'pytorch']
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    log = proc.stdout + proc.stderr
    assert 'Distributed launcher: pytorch' in log or 'distributed' in log.lower()
    work = tmp_path / 'work'
    # the student-only export exists and carries no teacher/connector weights
    final = torch.load(work / 'final.pth', map_location='cpu', weights_only=True)['state_dict']
    assert final and not any(k.startswith(('connector', 'teachers', 'student.')) for k in final)
    # ω was updated by the feedback hook and is the same on every rank (broadcast): one history file
    history = json.loads((work / 'omega_history.json').read_text())
    assert history, 'no feedback update recorded'
    ckpt = torch.load(work / 'iter_4.pth', map_location='cpu', weights_only=True)
    omega = [v for k, v in ckpt['state_dict'].items() if k.startswith('weighting.') and 'omega' in k]
    assert omega and torch.isfinite(omega[0]).all() and abs(float(omega[0].sum()) - 2.0) < 1e-4
    assert osp.isfile(work / 'iter_4.pth')
