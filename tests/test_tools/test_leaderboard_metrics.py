"""Selectable leaderboard metric columns: the default set unchanged, a suite's ``leaderboard.metrics`` and
``tools/test.py --compare --metrics``."""
import importlib.util
import json
import os
import os.path as osp
import sys

import pytest

from jdbench.benchmark.aggregate import build_leaderboard
from jdbench.benchmark.records import ALL_METRIC_COLUMNS, METRIC_COLUMNS, RunRecord, metric_columns
from jdbench.benchmark.render import to_csv, to_json, to_markdown, to_text

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
EIGEN = ['abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'd1', 'd2', 'd3']


def _depth(abs_rel, sq_rel, rmse, rmse_log, d1, d2, d3):
    return dict(abs_rel=abs_rel, sq_rel=sq_rel, rmse=rmse, rmse_log=rmse_log, d1=d1, d2=d2, d3=d3,
                abs_err=2 * rmse, rel_err=abs_rel, scale_ratio_med=30.0)


def _runs():
    """monodepth2 (the reference) and xdistill over 2 seeds; xdistill is 10 % better on abs_rel and rmse at seed
    0 (Δm +5) and equal at seed 1 (Δm 0); the teacher has mIoU only."""
    return [
        RunRecord('monodepth2', 0, _depth(0.20, 2.0, 8.0, 0.30, 0.70, 0.85, 0.90), role='reference'),
        RunRecord('monodepth2', 1, _depth(0.20, 2.0, 8.0, 0.30, 0.72, 0.87, 0.92), role='reference'),
        RunRecord('xdistill', 0, _depth(0.18, 2.0, 7.2, 0.30, 0.74, 0.88, 0.93)),
        RunRecord('xdistill', 1, _depth(0.20, 2.0, 8.0, 0.30, 0.71, 0.86, 0.91)),
        RunRecord('teacher_seg', 0, dict(mIoU=60.0, pixel_acc=90.0), role='teacher'),
    ]


def test_metric_columns_by_key_alias_and_errors():
    assert metric_columns(None) is METRIC_COLUMNS and metric_columns([]) is METRIC_COLUMNS
    assert [c.key for c in metric_columns(EIGEN)] == EIGEN
    assert [c.key for c in metric_columns(['AbsRel', 'rmse log', 'delta3', 'miou'])] == [
        'abs_rel', 'rmse_log', 'd3', 'mIoU']
    assert [c.header for c in metric_columns(['sq_rel', 'd2'])] == ['SqRel ↓', 'δ<1.25² ↑']
    assert {c.key for c in ALL_METRIC_COLUMNS} >= {c.key for c in METRIC_COLUMNS} | set(EIGEN)
    with pytest.raises(ValueError, match="unknown leaderboard metric 'speed'; choose from mIoU, pixel_acc"):
        metric_columns(['abs_rel', 'speed'])
    with pytest.raises(ValueError, match="'rmse' is named twice"):
        metric_columns(['rmse', 'RMSE'])


def test_selected_columns_values_delta_m_and_paired():
    board = build_leaderboard(_runs(), references={'monodepth2': ['monodepth2']},
                              dm_metrics=['abs_rel', 'sq_rel', 'rmse', 'rmse_log'],
                              metrics=['mIoU'] + EIGEN)
    assert [c.key for c in board.columns] == ['mIoU'] + EIGEN + ['delta_m']
    xd = next(r for r in board.rows if r.method == 'xdistill')
    assert xd.values['abs_rel'].mean == pytest.approx(0.19) and xd.values['d3'].mean == pytest.approx(0.92)
    # Δm per seed vs the reference means (0.2, 2, 8, 0.3): seed 0 (10 + 0 + 10 + 0) / 4 = 5, seed 1 0
    assert xd.values['delta_m'].mean == pytest.approx(2.5)
    assert [r.method for r in board.rows][0] == 'xdistill' and 'abs_rel' in xd.best
    paired = board.add_paired('monodepth2')
    assert [(p.method, p.diffs) for p in paired.pairs] == [('xdistill', {0: pytest.approx(5.0), 1: 0.0})]
    text = to_text(board)
    assert 'AbsRel ↓' in text and 'δ<1.25³ ↑' in text and 'Abs err' not in text and '60.00' in text


def test_default_columns_are_unchanged():
    """No selection = the default set, byte for byte, in every format."""
    runs = _runs()
    default = build_leaderboard(runs, references={'m': ['monodepth2']})
    named = build_leaderboard(runs, references={'m': ['monodepth2']},
                              metrics=[c.key for c in METRIC_COLUMNS])
    assert [c.key for c in default.columns] == ['mIoU', 'pixel_acc', 'abs_err', 'rel_err', 'd1', 'delta_m']
    for fmt in (to_text, to_markdown, to_csv, to_json):
        assert fmt(default) == fmt(named)


def _tool(name):
    spec = importlib.util.spec_from_file_location(f'jdbench_tool_{name}_m', osp.join(ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(path, data):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(data, f)


@pytest.fixture
def results(tmp_path):
    out = tmp_path / 'out'
    for run in _runs():
        _write(str(out / run.method / f'seed{run.seed}' / 'metrics.json'), run.metrics)
    return out


def _compare(monkeypatch, capsys, *argv):
    monkeypatch.setattr(sys, 'argv', ['tools/test.py', *map(str, argv)])
    rc = _tool('test').main()
    return rc, capsys.readouterr()


def test_compare_metrics_flag(results, monkeypatch, capsys):
    rc, out = _compare(monkeypatch, capsys, '--compare', results, '--metrics', 'abs_rel', 'rmse', 'd3',
                       '--reference', 'monodepth2', '--dm-metrics', 'abs_rel', 'rmse', '--no-eval')
    assert rc == 0
    header = next(line for line in out.out.splitlines() if 'Method' in line)
    assert [h for h in ('AbsRel', 'RMSE', 'δ<1.25³', 'Δm', 'mIoU', 'Abs err') if h in header] == [
        'AbsRel', 'RMSE', 'δ<1.25³', 'Δm']
    assert header.index('AbsRel') < header.index('RMSE') < header.index('δ<1.25³')
    rc, out = _compare(monkeypatch, capsys, '--compare', results, '--no-eval')  # the default columns
    header = next(line for line in out.out.splitlines() if 'Method' in line)
    assert 'Abs err' in header and 'AbsRel' not in header
    rc, out = _compare(monkeypatch, capsys, '--compare', results, '--metrics', 'speed', '--no-eval')
    assert rc == 2 and "unknown leaderboard metric 'speed'" in out.err
    with pytest.raises(SystemExit) as exc:
        _compare(monkeypatch, capsys, 'configs/xdistill/monodepth2_synthdrive_seq.py', 'x.pth', '--metrics',
                 'abs_rel')
    assert exc.value.code == 2


def test_compare_uses_the_suite_metrics(results, monkeypatch, capsys):
    """A suite folder's suite.json carries the suite's leaderboard.metrics; --metrics still wins."""
    manifest = dict(name='s', models=[dict(name=r.method, role=r.role, runs=[
        dict(seed=s.seed, work_dir=str(results / s.method / f'seed{s.seed}')) for s in _runs()
        if s.method == r.method]) for r in _runs() if r.seed == 0],
        references={'monodepth2': ['monodepth2']}, dm_metrics=['abs_rel', 'rmse'],
        leaderboard_metrics=['rmse_log', 'd2'])
    _write(str(results / 'suite.json'), manifest)
    rc, out = _compare(monkeypatch, capsys, '--compare', results, '--no-eval')
    header = next(line for line in out.out.splitlines() if 'Method' in line)
    assert rc == 0 and 'RMSE log' in header and 'δ<1.25²' in header and 'AbsRel' not in header
    rc, out = _compare(monkeypatch, capsys, '--compare', results, '--no-eval', '--metrics', 'sq_rel')
    header = next(line for line in out.out.splitlines() if 'Method' in line)
    assert 'SqRel' in header and 'RMSE log' not in header
