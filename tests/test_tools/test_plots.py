import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from jdbench.benchmark.aggregate import build_leaderboard
from jdbench.benchmark.records import RunRecord
from jdbench.benchmark.render import plot_leaderboard
from jdbench.utils.scalars import final_val_metrics, read_scalars
from jdbench.visualization.curves import (loss_keys, omega_records, plot_training_curves, plot_weights,
                                          weight_keys)


def _records(n=20):
    recs = []
    for it in range(1, n + 1):
        recs.append({
            'lr': 1e-3,
            'loss': 3.0 / it,
            'seg.loss_ce': 2.0 / it,
            'depth.loss_l1': 1.0 / it,
            'seg.acc_seg': 50.0,
            'w.kd.seg': 1.0 + it / n,
            'w.kd.depth': 1.0 - it / (2 * n),
            'step': it
        })
        if it % 10 == 0:
            recs.append({'mIoU': 10.0 * it, 'abs_err': 1.0 / it, 'delta_m': it / 10, 'time': 0.1, 'step': it})
    return recs


def _write_scalars(work_dir, timestamp, records):
    path = osp.join(work_dir, timestamp, 'vis_data')
    import os
    os.makedirs(path)
    with open(osp.join(path, 'scalars.json'), 'w') as f:
        f.write('\n'.join(json.dumps(r) for r in records) + '\n')


def _size(path):
    with Image.open(path) as im:
        return im.size


def test_scalars_across_resumed_timestamps(tmp_path):
    recs = _records()
    _write_scalars(str(tmp_path), '20250101_000000', recs[:12])  # up to the val at step 10 and a bit more
    _write_scalars(str(tmp_path), '20250101_010000', recs[10:])  # the resumed run logs step 10 again
    merged = read_scalars(str(tmp_path))
    assert [r['step'] for r in merged if 'loss' in r] == list(range(1, 21))
    assert final_val_metrics(str(tmp_path), 20) == {'mIoU': 200.0, 'abs_err': 0.05, 'delta_m': 2.0}
    assert final_val_metrics(str(tmp_path), 15) is None
    assert final_val_metrics(str(tmp_path / 'nothing')) is None


def test_training_and_weight_plots_have_the_expected_size(tmp_path):
    recs = _records()
    assert loss_keys(recs) == ['loss', 'seg.loss_ce', 'depth.loss_l1']
    assert weight_keys(recs) == ['w.kd.seg', 'w.kd.depth']
    path = plot_training_curves(recs, str(tmp_path / 'loss.png'), figsize=(6, 4), dpi=50)
    assert _size(path) == (300, 200)
    path = plot_weights(recs, str(tmp_path / 'omega.png'))
    assert _size(path) == (800, 500)
    assert plot_weights([{'loss': 1.0, 'step': 1}], str(tmp_path / 'none.png')) is None
    assert not (tmp_path / 'none.png').exists()


def test_omega_history_formats():
    assert omega_records([{
        'iter': 5,
        'omega': {
            'seg': 1.5,
            'depth': 0.5
        }
    }]) == [{
        'step': 5,
        'w.seg': 1.5,
        'w.depth': 0.5
    }]
    assert omega_records([{'step': 2, 'seg': 1.0}]) == [{'step': 2, 'w.seg': 1.0}]
    assert omega_records({
        'seg': [1.0, 2.0],
        'depth': [1.0]
    }) == [{
        'step': 0,
        'w.seg': 1.0,
        'w.depth': 1.0
    }, {
        'step': 1,
        'w.seg': 2.0
    }]


def test_plot_hook_draws_into_the_work_dir(tmp_path):
    from jdbench.engine.hooks.plot_hook import TrainingPlotHook
    _write_scalars(str(tmp_path), '20250101_000000', _records())
    hook = TrainingPlotHook(figsize=(4, 3), dpi=50)
    written = hook.draw(str(tmp_path))
    assert sorted(osp.basename(p) for p in written) == ['loss_curves.png', 'omega.png', 'val_metrics.png']
    assert all(_size(p) == (200, 150) for p in written)


def test_plot_hook_uses_omega_history_when_not_logged(tmp_path):
    from jdbench.engine.hooks.plot_hook import TrainingPlotHook
    recs = [{k: v for k, v in r.items() if not k.startswith('w.')} for r in _records()]
    _write_scalars(str(tmp_path), '20250101_000000', recs)
    (tmp_path / 'omega_history.json').write_text(
        json.dumps([{
            'iter': i,
            'omega': {
                'seg': i
            }
        } for i in range(5)]))
    written = TrainingPlotHook().draw(str(tmp_path))
    assert str(tmp_path / 'omega.png') in written and _size(str(tmp_path / 'omega.png')) == (800, 500)


def test_leaderboard_chart(tmp_path):
    runs = [
        RunRecord('a', 0, dict(mIoU=50.0, pixel_acc=80.0, abs_err=1.0, rel_err=0.2)),
        RunRecord('b', 0, dict(mIoU=55.0, pixel_acc=80.0, abs_err=0.9, rel_err=0.2)),
        RunRecord('b', 1, dict(mIoU=53.0, pixel_acc=81.0, abs_err=0.95, rel_err=0.2))
    ]
    board = build_leaderboard(
        runs, costs={
            'a': dict(latency=5.0),
            'b': dict(latency=7.0)
        }, references={'a': ['a']})
    path = plot_leaderboard(board, str(tmp_path / 'chart.png'), figsize=(5, 4), dpi=40)
    assert _size(path) == (200, 160)
    assert plot_leaderboard(board, str(tmp_path / 'no.png'), x='flops') is None  # no such column: no chart


@pytest.mark.parametrize('shape', [(24, 40), (17, 33)])
def test_prediction_panel_size_and_colours(shape):
    from jdbench.visualization import INVALID_RGB, colorize_depth, colorize_seg, make_panel, panel_size
    h, w = shape
    rng = np.random.RandomState(0)
    image = rng.randint(0, 255, (h * 2, w * 2, 3)).astype(np.uint8)  # resized to the GT size
    gt_seg = rng.randint(0, 3, (h, w))
    gt_seg[0, 0] = 255
    gt_depth = rng.uniform(1, 50, (h, w)).astype(np.float32)
    gt_depth[0, 1] = 0
    panel = make_panel(
        image, gt_seg, gt_seg, gt_depth, gt_depth * 1.1, palette=[[255, 0, 0], [0, 255, 0], [0, 0, 255]])
    assert panel.shape == (*panel_size(h, w, 6), 3) and panel.dtype == np.uint8
    seg = colorize_seg(gt_seg, [[255, 0, 0], [0, 255, 0], [0, 0, 255]])
    assert tuple(seg[0, 0]) == INVALID_RGB and tuple(seg[gt_seg == 1][0]) == (0, 255, 0)
    depth = colorize_depth(gt_depth, 0, 50)
    assert tuple(depth[0, 1]) == INVALID_RGB and depth.shape == (h, w, 3)
    seg_only = make_panel(image[:h, :w], gt_seg, gt_seg)
    assert seg_only.shape == (*panel_size(h, w, 3), 3)
