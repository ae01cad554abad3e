"""The X-Distill suite (configs/benchmarks/synthdrive_xdistill.py): its plan, the two data blocks (SynthDrive
images for the teacher, sequences for Monodepth2 and X-Distill), the single-teacher options, and its leaderboard
from (hand-written) results. Nothing is trained."""
import json
import os
import os.path as osp

import pytest
from mmengine.config import Config

from jdbench.benchmark.config_utils import (data_cfg_options, is_sequence_dataset, missing_teacher_options,
                                            teacher_options)
from jdbench.benchmark.suite import Suite, SuiteRunner

SUITE = 'configs/benchmarks/synthdrive_xdistill.py'
SHARED_TEACHER = 'work_dirs/benchmarks/synthdrive/teachers/seg_synthdrive'


def test_plan_models_and_leaderboard_settings():
    suite = Suite.from_file(SUITE)
    suite.check_configs()
    roles = {m.name: m.role for m in suite.models}
    assert roles == dict(teacher_seg='teacher', monodepth2='reference', xdistill='method')
    assert suite.seeds == [0, 1, 2] and suite.references == dict(monodepth2=['monodepth2'])
    assert suite.dm_metrics == ['abs_rel', 'sq_rel', 'rmse', 'rmse_log']
    assert suite.leaderboard['paired'] == ['monodepth2']
    assert suite.leaderboard['metrics'] == ['mIoU', 'abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'd1', 'd2', 'd3']
    assert suite.manifest()['leaderboard_metrics'] == suite.leaderboard['metrics']
    runs = [(r.model.name, r.seed) for r in suite.runs()]
    assert runs == [('teacher_seg', 0)] + [(m, s) for s in (0, 1, 2) for m in ('monodepth2', 'xdistill')]
    lines = SuiteRunner(suite).describe()
    assert lines[0].startswith('suite synthdrive_xdistill: 7 runs')
    ablations = Suite.from_file('configs/benchmarks/synthdrive_xdistill_ablations.py')
    ablations.check_configs()
    assert ablations.out_dir == suite.out_dir  # the comparison's finished runs are reused
    names = [m.name for m in ablations.models]
    assert names[:3] == ['teacher_seg', 'monodepth2', 'xdistill'] and len(names) == 10
    with pytest.raises(ValueError, match=r"leaderboard.metrics: unknown leaderboard metric 'speed'"):
        Suite.from_file(SUITE, cfg_options={'leaderboard.metrics': ['abs_rel', 'speed']})


def test_the_teacher_run_is_the_default_suites():
    """Same config, work dir and options as in configs/benchmarks/synthdrive.py: one run serves both."""
    suite, default = Suite.from_file(SUITE), Suite.from_file('configs/benchmarks/synthdrive.py')
    mine = next(r for r in suite.runs() if r.model.name == 'teacher_seg')
    theirs = next(r for r in default.runs() if r.model.name == 'teacher_seg')
    assert mine.work_dir == theirs.work_dir == SHARED_TEACHER
    assert suite.train_options(mine) == default.train_options(theirs)
    xd = next(m for m in suite.models if m.name == 'xdistill')
    assert suite.teacher_options(xd) == {'model.teacher.checkpoint': f'{SHARED_TEACHER}/final.pth'}
    md2 = next(m for m in suite.models if m.name == 'monodepth2')
    assert suite.teacher_options(md2) == {}
    quick = Suite.from_file(SUITE, quick=True)
    assert quick.teacher_work_dir == 'work_dirs/benchmarks/synthdrive_xdistill_quick/teachers'


def test_each_dataset_gets_the_data_block_of_its_kind():
    suite = Suite.from_file(SUITE)
    seq, img = suite.data['sequences'], suite.data
    md2 = suite.common_options(next(m for m in suite.models if m.name == 'monodepth2'))
    for loader in ('train', 'val', 'test'):
        assert md2[f'{loader}_dataloader.dataset.data_root'] == seq['data_root']
        assert md2[f'{loader}_dataloader.dataset.generate.num_sequences'] == 24
        assert md2[f'{loader}_dataloader.dataset.generate.size'] == (64, 224)
        assert md2[f'{loader}_dataloader.dataset.pipeline.1.scale'] == (224, 64)  # ResizeSequence (W, H)
    assert md2['train_dataloader.batch_size'] == 4 and md2['train_dataloader.num_workers'] == 0
    assert not any(v == img['data_root'] for v in md2.values())
    assert not any(k.endswith(('num_train', 'crop_size')) for k in md2)
    teacher = suite.common_options(next(m for m in suite.models if m.name == 'teacher_seg'))
    assert teacher['train_dataloader.dataset.data_root'] == img['data_root']
    assert teacher['train_dataloader.dataset.generate.num_train'] == 400
    assert teacher['train_dataloader.dataset.pipeline.3.crop_size'] == (64, 128)
    assert not any('num_sequences' in k or v == seq['data_root'] for k, v in teacher.items())


def test_sequence_options_rules():
    cfg = Config.fromfile('configs/xdistill/monodepth2_synthdrive_seq.py')
    assert is_sequence_dataset(cfg.train_dataloader.dataset)
    assert is_sequence_dataset(dict(type='jdbench.KITTIRawDataset'))
    assert is_sequence_dataset(dict(type='MyDataset', generate=dict(num_sequences=2, num_frames=3)))
    assert not is_sequence_dataset(dict(type='SynthDriveDataset', generate=dict(num_train=2, num_val=1)))
    # image options alone never reach a sequence dataset (only the loaders' workers and batch size)
    opts = data_cfg_options(cfg, dict(data_root='data/images', num_train=10, size=(32, 64), batch_size=2,
                                      num_workers=0))
    assert sorted(opts) == sorted(['train_dataloader.batch_size'] + [
        f'{l}_dataloader.{k}' for l in ('train', 'val', 'test') for k in ('num_workers', 'persistent_workers')])
    # the sequence block's batch size wins for a sequence loader
    opts = data_cfg_options(cfg, dict(batch_size=2, sequences=dict(batch_size=6, seed=5, num_test=2)))
    assert opts['train_dataloader.batch_size'] == 6 and opts['val_dataloader.dataset.generate.seed'] == 5
    assert opts['test_dataloader.dataset.generate.num_test'] == 2
    # the KITTI configs: a data_root, no generate
    kitti = data_cfg_options(Config.fromfile('configs/xdistill/monodepth2_kitti_eigen_zhou.py'),
                             dict(sequences=dict(data_root='/data/kitti', size=(192, 640))))
    assert kitti['train_dataloader.dataset.data_root'] == '/data/kitti'
    assert kitti['val_dataloader.dataset.pipeline.1.scale'] == (640, 192)
    assert not any('generate' in k for k in kitti)


def test_single_teacher_options():
    cfg = Config.fromfile('configs/xdistill/xdistill_kitti_eigen_zhou.py')
    cfg.model.teacher.checkpoint = '/nonexistent/final.pth'
    assert missing_teacher_options(cfg) == {'model.teacher.checkpoint': None}
    assert teacher_options(cfg, {'configs/teachers/seg_cityscapes.py': 'w/seg'}) == {
        'model.teacher.checkpoint': 'w/seg/final.pth'}
    with pytest.raises(ValueError, match="teacher 'seg' is 'configs/teachers/seg_cityscapes.py', which the suite "
                                         'does not train'):
        teacher_options(cfg, {'configs/teachers/seg_synthdrive.py': 'w/seg'})


def _write(path, data):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(data, f)


def test_leaderboard_from_results(tmp_path):
    """The suite's report on hand-written metrics: the chosen columns, Δm vs Monodepth2 and the paired
    per-seed table (xdistill 10 % better on abs_rel and rmse at every seed: Δm +5 each)."""
    suite = Suite.from_file(SUITE, out_dir=str(tmp_path / 'out'),
                            cfg_options={'teacher_work_dir': str(tmp_path / 'teachers')})
    suite.write_manifest()
    for run in suite.runs():
        if run.model.name == 'teacher_seg':
            _write(run.metrics_path, dict(mIoU=60.0, pixel_acc=90.0))
            continue
        k = 0.9 if run.model.name == 'xdistill' else 1.0
        _write(run.metrics_path, dict(abs_rel=0.2 * k, sq_rel=2.0, rmse=8.0 * k, rmse_log=0.3, d1=0.7 + run.seed
                                      / 100, d2=0.85, d3=0.9, abs_err=9.0, rel_err=0.2))
    logs = []
    board = SuiteRunner(suite, log=logs.append).report()
    assert [c.key for c in board.columns] == ['mIoU', 'abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'd1', 'd2', 'd3',
                                              'delta_m']
    xd = next(r for r in board.rows if r.method == 'xdistill')
    assert xd.values['delta_m'].mean == pytest.approx(5.0) and board.rows[0].method == 'xdistill'
    teacher = next(r for r in board.rows if r.method == 'teacher_seg')
    assert teacher.values['mIoU'].mean == 60.0 and 'delta_m' not in teacher.values and not board.warnings
    assert board.paired[0].pairs[0].diffs == pytest.approx({0: 5.0, 1: 5.0, 2: 5.0})
    out = tmp_path / 'out'
    assert (out / 'paired_monodepth2.md').is_file()
    assert 'AbsRel' in (out / 'leaderboard.md').read_text() and 'Abs err' not in (out / 'leaderboard.md').read_text()


def test_cost_of_the_sequence_models():
    """The suite's cost step on Monodepth2 / X-Distill: a synthetic frame-triplet batch for the training step,
    and the same deployed depth net (parameters, FLOPs) in both cost records."""
    import torch

    from jdbench.benchmark.measure import analyze_config, run_train_measurement, synthetic_sequence_batch
    from jdbench.benchmark.records import CostSettings
    batch = synthetic_sequence_batch(2, (8, 12), seed=1)
    x = batch['inputs'][0]
    assert tuple(x.shape) == (18, 8, 12) and batch['data_samples'][0].metainfo['frame_ids'] == (0, -1, 1)
    assert torch.equal(x[:9], x[9:])  # the "augmented" copy is the raw frames
    assert torch.equal(x[3:6, :, 1:], x[0:3, :, :-1]) and torch.equal(x[6:9, :, :-1], x[0:3, :, 1:])  # ±1 px
    small = CostSettings(input_size=(64, 96), train_batch_size=2, train_iters=1, train_warmup=1, repeats=1,
                         warmup=0)
    step = run_train_measurement('configs/xdistill/monodepth2_synthdrive_seq.py', None, small)
    assert step['iter_time_s'] > 0 and step['input_shape'] == [3, 64, 96] and step['batch_size'] == 2
    nowhere = {'model.teacher.checkpoint': '/nonexistent/final.pth'}  # whatever work_dirs/ holds
    records = {name: analyze_config(f'configs/xdistill/{name}_synthdrive_seq.py', None,
                                    nowhere if name == 'xdistill' else None,
                                    CostSettings(input_size=(64, 96), repeats=1, warmup=0, train=False))
               for name in ('monodepth2', 'xdistill')}
    md2, xd = records['monodepth2'], records['xdistill']
    assert xd['params']['deployed'] == md2['params']['deployed'] and xd['flops']['total'] == md2['flops']['total']
    assert xd['params']['total'] > md2['params']['total']  # the teacher and the translator, not deployed
    assert 'teachers.seg' in xd['params']['components'] and 'translator' in xd['params']['components']
    assert 'teacher checkpoint(s) missing (teacher)' in xd['note']
