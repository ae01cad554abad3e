"""The suite's leaderboard settings and report on a crafted suite folder: the default outputs (the HTML page
among them), the paired statement, the teacher check and its margin, and the chart settings of the shipped
suites."""
import json
import os
import os.path as osp

import pytest
from mmengine.config import Config

from jdbench.benchmark.report import compare
from jdbench.benchmark.suite import Suite, SuiteRunner

METRICS = {
    'teacher_seg': dict(mIoU=26.1, pixel_acc=80.0),
    'teacher_depth': dict(abs_err=6.45, rel_err=0.30),  # 0.5% better than stl_depth on abs_err
    'stl_seg': dict(mIoU=24.2, pixel_acc=75.0),
    'stl_depth': dict(abs_err=6.48, rel_err=0.35),
    'mtl': dict(mIoU=22.0, pixel_acc=72.0, abs_err=6.5, rel_err=0.36),
    'jd': dict(mIoU=23.0, pixel_acc=73.0, abs_err=6.4, rel_err=0.35),
}


def _suite(tmp_path, extra=''):
    path = tmp_path / 'suite.py'
    path.write_text(f"""
name = 'toy'
out_dir = {str(tmp_path / 'out')!r}
teachers = dict(teacher_seg='configs/teachers/seg_synthdrive.py',
                teacher_depth='configs/teachers/depth_synthdrive.py')
methods = dict(stl_seg='configs/baselines/stl_seg_synthdrive.py',
               stl_depth='configs/baselines/stl_depth_synthdrive.py',
               mtl='configs/baselines/mtl_synthdrive.py', jd='configs/jd_synthdrive.py')
seeds = [0, 1]
max_iters = dict(teacher=10, student=10)
references = dict(stl=['stl_seg', 'stl_depth'])
{extra}
""")
    return str(path)


def _finish(suite):
    """Write every run's metrics.json (jd ahead of mtl by +1 / +2 Δm points) and every model's cost.json."""
    suite.write_manifest()
    for run in suite.runs():
        metrics = dict(METRICS[run.model.name])
        if run.model.name == 'jd' and run.seed == 1:
            metrics['mIoU'] = 24.0  # +4.1 % more mIoU at seed 1
        os.makedirs(run.work_dir, exist_ok=True)
        with open(run.metrics_path, 'w') as f:
            json.dump(metrics, f)
    for model in suite.models:
        os.makedirs(osp.join(suite.out_dir, model.name), exist_ok=True)
        with open(osp.join(suite.out_dir, model.name, 'cost.json'), 'w') as f:
            step = 0.1 if 'teacher' in model.name else 0.05
            json.dump(dict(params=dict(deployed=1e6), train=dict(iter_time_s=step)), f)


def test_suite_report_writes_the_page_paired_statement_and_teacher_warning(tmp_path):
    suite = Suite.from_file(_suite(tmp_path, "leaderboard = dict(sort_by='delta_m', paired='mtl')"))
    assert suite.leaderboard['formats'] == ['md', 'csv', 'json', 'png', 'html']  # the default outputs
    assert suite.leaderboard['chart'] == ('train_time', 'delta_m') and suite.leaderboard['paired'] == ['mtl']
    assert suite.teacher_margin == dict(relative=0.05)
    _finish(suite)
    lines = []
    board = SuiteRunner(suite, log=lines.append).report()
    out = tmp_path / 'out'
    for name in ('leaderboard.html', 'leaderboard.png', 'leaderboard.md', 'leaderboard.txt', 'paired_mtl.md'):
        assert (out / name).is_file(), name
    text = (out / 'leaderboard.txt').read_text()
    assert text.rstrip().splitlines()[-1].startswith(
        'WARNING: teacher teacher_depth is not ahead of its single-task reference by the margin (5% on each '
        'metric')
    assert 'teacher_seg' not in text.rstrip().splitlines()[-1]
    assert 'Not separated from mtl at 95%: jd' in text
    assert '(2 seeds, ahead in 2/2, sign test p = 0.5)' in text
    assert [p.method for p in board.paired[0].pairs] == ['jd']
    page = (out / 'leaderboard.html').read_text(encoding='utf-8')
    assert 'WARNING: teacher teacher_depth' in page[page.index('<footer'):]
    assert json.loads((out / 'suite.json').read_text())['teacher_margin'] == dict(relative=0.05)

    # tools/test.py --compare on the folder uses the suite's margin (from suite.json)
    relaxed = Suite.from_file(_suite(tmp_path, 'teacher_margin = dict(relative=0.001)'))
    relaxed.write_manifest()
    assert compare([str(out)], evaluate=False, log=lambda s: None).warnings == []
    board = compare([str(out)], evaluate=False, log=lambda s: None, paired=['mtl'], level=0.5)
    assert board.paired[0].level == 0.5
    off = Suite.from_file(_suite(tmp_path, 'teacher_margin = None'))
    assert off.teacher_margin is None
    _finish(off)
    assert SuiteRunner(off, log=lambda s: None).report().warnings == []


def test_suite_paired_baseline_missing_is_a_note(tmp_path):
    suite = Suite.from_file(_suite(tmp_path, "leaderboard = dict(paired=['kd4mtl'], formats=['md'])"))
    _finish(suite)
    board = SuiteRunner(suite, log=lambda s: None).report()
    notes = '\n'.join(board.notes)
    assert "Paired comparison vs kd4mtl not made: paired comparison: no runs of 'kd4mtl'" in notes
    assert not (tmp_path / 'out' / 'leaderboard.html').exists()  # only the formats asked for


@pytest.mark.parametrize('extra, message', [
    ("leaderboard = dict(format=['md'])", r"leaderboard: unknown key\(s\) \['format'\]"),
    ("leaderboard = dict(formats=['pdf'])", r"unknown format\(s\) \['pdf'\]"),
    ('leaderboard = dict(level=95)', 'leaderboard.level: confidence level must be between 0 and 1'),
    ('teacher_margin = dict(relative=-0.1)', 'teacher_margin.relative must be a fraction >= 0'),
    ('teacher_margin = dict(absolute=1.0)', 'teacher_margin must be dict'),
])
def test_bad_leaderboard_settings_are_clear_errors(tmp_path, extra, message):
    with pytest.raises(ValueError, match=message):
        Suite.from_file(_suite(tmp_path, extra))


def test_shipped_suites_chart_training_cost_and_check_teachers():
    for name in ('synthdrive', 'synthdrive_quick', 'synthdrive_full', 'synthdrive_ablations'):
        suite = Suite.from_file(f'configs/benchmarks/{name}.py')
        assert tuple(suite.leaderboard['chart']) == ('train_time', 'delta_m'), name
        assert 'html' in suite.leaderboard['formats'] and 'mtl' in suite.leaderboard['paired'], name
        assert suite.teacher_margin == dict(relative=0.05), name
    assert Suite.from_file('configs/benchmarks/synthdrive_full.py').leaderboard['paired'] == ['mtl', 'kd4mtl']
    for name in ('synthdrive_weighting', 'synthdrive_weighting_distill'):
        cfg = Config.fromfile(f'configs/benchmarks/{name}.py')
        assert not Suite(cfg, name).leaderboard['paired'], name  # no Δm reference there
