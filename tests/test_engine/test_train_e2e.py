"""End to end: train the joint student on a tiny rendered SynthDrive, test it with tools/test.py, resume."""
import json
import os.path as osp
import runpy
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from jdbench.testing import tiny_config, tiny_synthdrive
from jdbench.utils import allowed_checkpoint_globals, load_state_dict_checked

SIZE = (32, 64)


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return tiny_synthdrive(str(tmp_path_factory.mktemp('synthdrive')), size=SIZE)


def _cfg(data_root: str, work_dir: str, max_iters: int = 4, **extra) -> Config:
    return tiny_config('configs/baselines/mtl_synthdrive.py', data_root, work_dir, SIZE, max_iters, cfg_options=extra)


def test_train_then_test_tool(data_root, tmp_path):
    runner = Runner.from_cfg(_cfg(data_root, str(tmp_path / 'run')))
    runner.train()
    ckpt = tmp_path / 'run' / 'iter_4.pth'
    assert ckpt.is_file()
    out = tmp_path / 'metrics.json'
    argv = sys.argv
    sys.argv = ['tools/test.py', 'configs/baselines/mtl_synthdrive.py', str(ckpt), '--work-dir', str(tmp_path / 't'),
                '--metrics-out', str(out), '--cfg-options', f'test_dataloader.dataset.data_root={data_root}',
                'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
                f'test_dataloader.dataset.pipeline.1.scale=({SIZE[1]},{SIZE[0]})']
    try:
        runpy.run_path('tools/test.py', run_name='__main__')
    except SystemExit as exc:
        assert not exc.code, f'tools/test.py exited with {exc.code}'
    finally:
        sys.argv = argv
    metrics = json.loads(out.read_text())
    assert {'mIoU', 'pixel_acc', 'abs_err', 'rel_err', 'd1'} <= set(metrics)
    assert 0 <= metrics['mIoU'] <= 100 and metrics['abs_err'] > 0


class _Crash(Hook):
    """Simulates a killed run right after the checkpoint of iteration ``at``."""

    priority = 'LOWEST'

    def __init__(self, at: int) -> None:
        self.at = at

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.at:
            raise KeyboardInterrupt('simulated kill')


def _final_weights(work_dir: str) -> dict:
    return load_state_dict_checked(osp.join(work_dir, 'iter_4.pth'))


def test_resume_reaches_the_uninterrupted_result(data_root, tmp_path):
    Runner.from_cfg(_cfg(data_root, str(tmp_path / 'a'))).train()

    cfg = _cfg(data_root, str(tmp_path / 'b'))
    runner = Runner.from_cfg(cfg)
    runner.register_hook(_Crash(at=2))
    with pytest.raises(KeyboardInterrupt):
        runner.train()
    assert osp.isfile(tmp_path / 'b' / 'iter_2.pth') and not osp.isfile(tmp_path / 'b' / 'iter_4.pth')

    resumed = Runner.from_cfg(_cfg(data_root, str(tmp_path / 'b'), resume=True))
    resumed.train()
    a, b = _final_weights(str(tmp_path / 'a')), _final_weights(str(tmp_path / 'b'))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=k)


def test_checkpoints_need_the_allow_list(data_root, tmp_path):
    """mmengine checkpoints load with weights_only=True only thanks to jdbench's explicit allow-list."""
    Runner.from_cfg(_cfg(data_root, str(tmp_path / 'c'), max_iters=2)).train()
    path = str(tmp_path / 'c' / 'iter_2.pth')
    saved = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    try:
        with pytest.raises(Exception, match='HistoryBuffer|weights_only'):
            torch.load(path, weights_only=True)
        torch.serialization.add_safe_globals(allowed_checkpoint_globals())
        ckpt = torch.load(path, weights_only=True)
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(saved)
    assert 'message_hub' in ckpt and 'optimizer' in ckpt


def test_checkpoint_loads_in_a_fresh_process(data_root, tmp_path):
    """Resume happens in a new process, where no HistoryBuffer has been created yet."""
    import subprocess
    Runner.from_cfg(_cfg(data_root, str(tmp_path / 'd'), max_iters=2)).train()
    code = ('import torch, jdbench; '
            f'ckpt = torch.load({str(tmp_path / "d" / "iter_2.pth")!r}, weights_only=True); '
            'print(sorted(ckpt["message_hub"]["log_scalars"])[:1])')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
