import csv
import io
import json
import math

import pytest

from jdbench.benchmark.aggregate import build_leaderboard, paired_deltas
from jdbench.benchmark.records import RunRecord, mean_std
from jdbench.benchmark.render import export_leaderboard, paired_markdown, to_csv, to_json, to_markdown, to_text


def _runs():
    """stl_seg / stl_depth references (means: mIoU 51, pixel_acc 81, abs_err 1.1, rel_err 0.2), mtl equal to
    them (Δm 0), jd: seed 0 +10 % mIoU and -10 % abs_err (Δm +5), seed 1 +10 % rel_err (Δm -2.5)."""
    return [
        RunRecord('stl_seg', 0, dict(mIoU=50.0, pixel_acc=80.0), role='reference'),
        RunRecord('stl_seg', 1, dict(mIoU=52.0, pixel_acc=82.0), role='reference'),
        RunRecord('stl_depth', 0, dict(abs_err=1.0, rel_err=0.2, d1=0.8), role='reference'),
        RunRecord('stl_depth', 1, dict(abs_err=1.2, rel_err=0.2, d1=0.9), role='reference'),
        RunRecord('mtl', 0, dict(mIoU=51.0, pixel_acc=81.0, abs_err=1.1, rel_err=0.2, d1=0.85)),
        RunRecord('mtl', 1, dict(mIoU=51.0, pixel_acc=81.0, abs_err=1.1, rel_err=0.2, d1=0.85)),
        RunRecord('jd', 0, dict(mIoU=56.1, pixel_acc=81.0, abs_err=0.99, rel_err=0.2, d1=0.9)),
        RunRecord('jd', 1, dict(mIoU=51.0, pixel_acc=81.0, abs_err=1.1, rel_err=0.22, d1=0.86)),
        RunRecord('teacher_seg', 0, dict(mIoU=70.0, pixel_acc=90.0), role='teacher'),
    ]


REFS = {'stl': ['stl_seg', 'stl_depth']}
COSTS = {
    'jd': dict(params=1.2e6, flops=3.0e9, latency=12.5),
    'mtl': dict(params=1.2e6, flops=3.0e9, latency=11.0),
    'teacher_seg': dict(params=12e6, flops=20e9, latency=50.0)
}


def _row(board, method):
    return next(r for r in board.rows if r.method == method)


def test_mean_std_known_values():
    st = mean_std([1.0, 2.0, 3.0, 4.0])
    assert st.mean == 2.5 and st.n == 4
    assert st.std == pytest.approx(math.sqrt(5.0 / 3.0))  # sample std, ddof=1
    one = mean_std([7.0])
    assert one.mean == 7.0 and one.std is None
    with pytest.raises(ValueError):
        mean_std([])


def test_delta_m_per_seed_then_mean_and_std():
    board = build_leaderboard(_runs(), references=REFS)
    ref = board.references[0]
    assert ref.values == pytest.approx(dict(mIoU=51.0, pixel_acc=81.0, abs_err=1.1, rel_err=0.2))
    assert ref.sources['mIoU'] == ('stl_seg', 2) and ref.sources['abs_err'] == ('stl_depth', 2)
    jd = _row(board, 'jd').values['delta_m']
    assert jd.mean == pytest.approx(1.25)  # (+5 + -2.5) / 2
    assert jd.std == pytest.approx(7.5 / math.sqrt(2))
    assert _row(board, 'mtl').values['delta_m'].mean == pytest.approx(0.0)
    assert 'delta_m' not in _row(board, 'stl_seg').values  # single-task rows lack half the reference metrics
    assert _row(board, 'jd').values['mIoU'].mean == pytest.approx(53.55)


def test_paired_differences_by_seed():
    runs = _runs() + [RunRecord('kd', 1, dict(mIoU=51.0, pixel_acc=81.0, abs_err=1.1, rel_err=0.2))]
    ref = build_leaderboard(runs, references=REFS).references[0]
    pairs = {p.method: p for p in paired_deltas(runs, ref, 'mtl')}
    assert set(pairs) == {'jd', 'kd'}  # references and teachers are not paired
    assert pairs['jd'].diffs == pytest.approx({0: 5.0, 1: -2.5}) and pairs['jd'].wins == 1
    assert pairs['kd'].diffs == pytest.approx({1: 0.0}) and pairs['kd'].stat.std is None  # shared seeds only
    text = paired_markdown(list(pairs.values()), ref, 'mtl')
    assert '| jd | 2 | 0: +5.00, 1: -2.50 | +1.25 ± 5.30 | 1/2 |' in text and '1: +0.00' in text
    with pytest.raises(ValueError, match='no runs of'):
        paired_deltas(runs, ref, 'nope')


def test_ranking_and_direction_aware_best():
    board = build_leaderboard(_runs(), costs=COSTS, references=REFS)
    assert board.sort_by.key == 'delta_m'  # the default
    assert [(r.method, r.rank) for r in board.rows][:2] == [('jd', 1), ('mtl', 2)]
    assert all(r.rank is None for r in board.rows[2:])  # no Δm: ranked last, unranked
    assert 'mIoU' in _row(board, 'jd').best  # 53.55 > 51 (the teacher's 70 is not a contender)
    assert not _row(board, 'teacher_seg').best
    assert 'abs_err' in _row(board, 'jd').best  # lower is better
    assert 'rel_err' in _row(board, 'mtl').best and 'rel_err' in _row(board, 'stl_depth').best  # tie: both
    assert 'latency' in _row(board, 'mtl').best and 'latency' not in _row(board, 'jd').best

    board.sort('abs_err')  # lower first, ties share a rank
    ranks = {r.method: r.rank for r in board.rows}
    assert board.rows[0].method == 'jd' and ranks['mtl'] == ranks['stl_depth'] == 2
    assert ranks['stl_seg'] is None
    board.sort('Latency (ms)')  # titles and aliases work too
    assert board.rows[0].method == 'mtl'


def test_unknown_sort_column_is_a_clear_error():
    board = build_leaderboard(_runs(), references=REFS)
    with pytest.raises(ValueError, match=r"cannot sort by 'speed' \(unknown column\); choose one of: mIoU"):
        board.sort('speed')
    with pytest.raises(ValueError, match='no run on this leaderboard has it'):
        board.sort('latency')  # a known column, but no cost was given


def test_partial_suite_rows_are_kept_and_marked_incomplete():
    runs = _runs() + [RunRecord('jd', 2, None, error='training unfinished')]
    board = build_leaderboard(runs, references=REFS, expected_seeds={'mtl': 3})
    jd, mtl = _row(board, 'jd'), _row(board, 'mtl')
    assert not jd.complete and jd.seeds_cell == '2/3 incomplete'
    assert not mtl.complete and mtl.seeds_cell == '2/3 incomplete'
    text = to_text(board)
    assert 'Incomplete: mtl (2 of 3 seeds finished); jd (2 of 3 seeds finished)' in text or \
        'Incomplete: jd (2 of 3 seeds finished); mtl (2 of 3 seeds finished)' in text
    assert '2/3 incomplete' in text


def test_different_metric_sets_are_reported():
    runs = _runs()
    runs[5] = RunRecord('mtl', 1, dict(mIoU=51.0, pixel_acc=81.0))  # a seed without depth metrics
    board = build_leaderboard(runs, references=REFS)
    mtl = _row(board, 'mtl')
    assert 'abs_err' in mtl.partial and mtl.values['abs_err'].n == 1
    assert mtl.values['delta_m'].n == 1  # only the seed with every reference metric
    text = to_text(board)
    assert 'mtl seed 1: different metric set, lacks abs_err, rel_err, d1' in text
    assert '†' in text


def test_missing_reference_and_no_reference():
    board = build_leaderboard(_runs(), references={'stl': ['stl_seg', 'nothing']})
    assert board.references[0].values.keys() == {'mIoU', 'pixel_acc'}
    assert "no results for nothing" in to_text(board) and 'leaves out abs_err, rel_err' in to_text(board)
    plain = build_leaderboard(_runs())
    assert 'delta_m' not in [c.key for c in plain.columns]
    assert 'Δm: not shown' in to_text(plain)
    with pytest.raises(ValueError, match='unknown Δm metric'):
        build_leaderboard(_runs(), references=REFS, dm_metrics=['mIoU', 'accuracy'])


def test_text_states_delta_m_and_references():
    text = to_text(build_leaderboard(_runs(), costs=COSTS, references=REFS))
    assert "single-task reference 'stl': mIoU = 51 (stl_seg, 2 seeds)" in text
    assert 'abs_err = 1.1 (stl_depth, 2 seeds)' in text
    assert '1.25 ± 5.30 *' in text  # jd's Δm, best-marked
    for header in ('mIoU (%) ↑', 'Abs err ↓', 'δ<1.25 ↑', 'Δm (%) ↑', 'Params (M) ↓', 'Latency (ms) ↓'):
        assert header in text


def test_exports_hold_the_same_numbers(tmp_path):
    runs = _runs() + [RunRecord('jd', 2, None)]
    board = build_leaderboard(
        runs, costs=COSTS, references={
            **REFS, 'teachers': ['teacher_seg', 'stl_depth']
        }, sort_by='mIoU')
    assert [c.key for c in board.columns][-4:] == ['delta_m@teachers', 'params', 'flops', 'latency']
    data = json.loads(to_json(board))
    jd = next(r for r in data['rows'] if r['method'] == 'jd')
    assert jd['seeds_expected'] == 3 and len(jd['seeds']) == 2 and not jd['complete']
    assert jd['values']['mIoU']['mean'] == pytest.approx(53.55) and jd['values']['params'] == dict(
        mean=1.2e6, std=None, n=1)
    rows = list(csv.DictReader(io.StringIO(to_csv(board))))
    assert [r['method'] for r in rows] == [r.method for r in board.rows]  # sorted by mIoU
    jd_csv = next(r for r in rows if r['method'] == 'jd')
    assert float(jd_csv['mIoU_mean']) == jd['values']['mIoU']['mean']  # full precision
    assert jd_csv['seeds'] == '2' and jd_csv['complete'] == '0' and jd_csv['params_std'] == ''
    md = to_markdown(board)
    assert '| 1 | teacher_seg | 1 | 70.00 |' in md  # the teacher ranks first by mIoU, not marked best
    assert '| jd | 2/3 incomplete | **53.55 ± 3.61** |' in md and '**1.200**' in md
    files = export_leaderboard(board, str(tmp_path))
    assert sorted(p.rsplit('.', 1)[1] for p in files) == ['csv', 'json', 'md', 'png']
    assert (tmp_path / 'leaderboard.md').read_text() == md
    assert json.loads((tmp_path / 'leaderboard.json').read_text()) == data
