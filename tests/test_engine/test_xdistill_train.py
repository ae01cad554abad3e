"""Smoke runs of the SynthDrive X-Distill configs through tools/train.py and tools/test.py on tiny rendered
sequences: training, the final validation (KITTI protocol variant), the depth-only export and its evaluation."""
import json
import os.path as osp
import runpy
import sys

import pytest
import torch
from mmengine.config import Config

from jdbench.benchmark.config_utils import data_cfg_options, to_cli_options
from jdbench.registry import MODELS
from jdbench.testing import random_teachers
from jdbench.utils import load_state_dict_checked
from jdbench.utils.scalars import final_val_metrics, read_scalars

CONFIGS = dict(monodepth2='configs/xdistill/monodepth2_synthdrive_seq.py',
               xdistill='configs/xdistill/xdistill_synthdrive_seq.py')
SEQUENCES = dict(num_sequences=3, num_frames=4, size=(64, 96), seed=3, num_val=0, num_test=1, batch_size=2,
                 num_workers=0)
DEPTH_KEYS = ('abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'd1', 'd2', 'd3')


def _tool(name, *args):
    argv = sys.argv
    sys.argv = [f'tools/{name}.py', *map(str, args)]
    try:
        runpy.run_path(f'tools/{name}.py', run_name='__main__')
    except SystemExit as exc:
        assert not exc.code, f'tools/{name}.py exited with {exc.code}'
    finally:
        sys.argv = argv


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('xd_e2e')
    ckpt = random_teachers(str(tmp / 'teachers'), dict(seg='configs/teachers/seg_synthdrive.py'))
    return str(tmp / 'seq'), ckpt['model.teachers.seg.checkpoint']


def _options(name, data_root, teacher):
    cfg = Config.fromfile(CONFIGS[name])
    opts = data_cfg_options(cfg, dict(sequences=dict(SEQUENCES, data_root=data_root)))
    opts.update({'train_cfg.max_iters': 3, 'train_cfg.val_interval': 3, 'default_hooks.logger.interval': 1,
                 'default_hooks.checkpoint.interval': 3, 'visualizer.name': f'xd_e2e_{name}'})
    if name == 'xdistill':
        opts['model.teacher.checkpoint'] = teacher
    return cfg, opts


@pytest.mark.parametrize('name', list(CONFIGS))
def test_train_validate_export_and_test(name, setup, tmp_path):
    data_root, teacher = setup
    cfg, opts = _options(name, data_root, teacher)
    assert opts['train_dataloader.dataset.generate.size'] == (64, 96)
    assert opts['val_dataloader.dataset.pipeline.1.scale'] == (96, 64)
    work = tmp_path / 'run'
    _tool('train', CONFIGS[name], '--work-dir', work, '--cfg-options', *to_cli_options(opts))
    # the final validation: the KITTI protocol variant's metrics on the 4 test frames
    val = final_val_metrics(str(work), 3)
    assert set(DEPTH_KEYS) <= set(val) and all(val[k] > 0 for k in DEPTH_KEYS)
    assert 0 < val['d1'] <= val['d2'] <= val['d3'] <= 1
    scalars = read_scalars(str(work))
    assert any(r.get('depth_protocol.kitti_eigen_nocrop') == 1.0 for r in scalars)
    train_keys = set().union(*[r.keys() for r in scalars if 'depth.loss_photo' in r])
    assert ('kd.seg.loss_xd' in train_keys) == (name == 'xdistill')
    # final.pth: the depth net alone, exactly the keys of a plain MonoDepthNet of the config
    export = torch.load(str(work / 'final.pth'), map_location='cpu', weights_only=True)
    assert export['meta']['student_only'] is True
    depth_net = MODELS.build(cfg.model.depth_net)
    assert {k: tuple(v.shape) for k, v in export['state_dict'].items()} == {
        k: tuple(v.shape) for k, v in depth_net.state_dict().items()}
    # tools/test.py on the export gives the final validation's numbers (same weights, same frames)
    out = tmp_path / 'metrics.json'
    test_opts = {k: v for k, v in opts.items() if not k.startswith(('train_cfg', 'default_hooks'))}
    _tool('test', CONFIGS[name], work / 'final.pth', '--work-dir', tmp_path / 'test', '--metrics-out', out,
          '--cfg-options', *to_cli_options({**test_opts, 'visualizer.name': f'xd_e2e_test_{name}'}))
    tested = json.loads(out.read_text())
    for key in DEPTH_KEYS:
        assert tested[key] == pytest.approx(val[key], rel=1e-5)
    assert load_state_dict_checked(str(work / 'final.pth')).keys() == depth_net.state_dict().keys()
    assert osp.isfile(osp.join(data_root, 'synthdrive_seq_meta.json'))
