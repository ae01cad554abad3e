import csv
import io
import json
import math

import pytest

from jdbench.benchmark.aggregate import build_leaderboard, paired_deltas, sign_test, t_cdf, t_quantile
from jdbench.benchmark.records import RunRecord, mean_std
from jdbench.benchmark.render import (chart_points, export_leaderboard, paired_markdown, plot_leaderboard,
                                      to_csv, to_json, to_markdown, to_text)


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


# ------------------------------------------------------------------------------------------- statistics
@pytest.mark.parametrize('p, df, expected', [
    (0.975, 1, 12.70620474),  # the t table (two-sided 95%: p = 0.975), to 10 significant digits
    (0.975, 2, 4.302652730),
    (0.975, 3, 3.182446305),
    (0.975, 4, 2.776445105),
    (0.975, 9, 2.262157163),
    (0.975, 30, 2.042272456),
    (0.95, 5, 2.015048373),
    (0.995, 10, 3.169272673),
    (0.9, 2, 1.885618083),
    (0.5, 7, 0.0),
])
def test_t_quantiles_match_the_table(p, df, expected):
    assert t_quantile(p, df) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert t_quantile(1 - p, df) == pytest.approx(-expected, rel=1e-9, abs=1e-12)  # symmetric
    assert t_cdf(expected, df) == pytest.approx(p, abs=1e-9)


def test_t_closed_forms_and_scipy():
    for p in (0.6, 0.8, 0.95, 0.999):
        assert t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-11)  # Cauchy
        assert t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-11)
    assert t_quantile(0.975, 10000) == pytest.approx(1.96, abs=1e-3)  # → the normal quantile 1.95996
    with pytest.raises(ValueError, match='whole number'):
        t_cdf(1.0, 2.5)
    with pytest.raises(ValueError, match='0 < p < 1'):
        t_quantile(1.0, 3)
    stats = pytest.importorskip('scipy.stats')
    for df in (1, 2, 3, 6, 11, 50):
        for p in (0.55, 0.9, 0.975, 0.9995):
            assert t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-10)


def test_sign_test_exact_binomial():
    assert sign_test(5, 0) == pytest.approx(2 / 32)
    assert sign_test(0, 5) == pytest.approx(2 / 32)
    assert sign_test(8, 2) == pytest.approx(2 * (1 + 10 + 45) / 1024)  # 0.109375
    assert sign_test(3, 3) == 1.0 and sign_test(0, 0) == 1.0
    assert sign_test(10, 0) == pytest.approx(2 / 1024)


def _paired_runs():
    """mtl at Δm 0 on seeds 0-2; jd ahead by +1, +2, +3 points (per seed); kd +4 / -2 / +1; kd_static: one
    seed."""
    runs = [r for r in _runs() if r.role != 'method']
    ref = dict(mIoU=51.0, pixel_acc=81.0, abs_err=1.1, rel_err=0.2)
    for seed in range(3):
        runs.append(RunRecord('mtl', seed, dict(ref)))
    for method, gains in (('jd', [1, 2, 3]), ('kd', [4, -2, 1]), ('kd_static', [5])):
        for seed, g in enumerate(gains):  # Δm = g: +4g % on mIoU alone (T = 4 metrics)
            runs.append(RunRecord(method, seed, dict(ref, mIoU=51.0 * (1 + 4 * g / 100))))
    return runs


def test_paired_interval_sign_test_and_separation():
    board = build_leaderboard(_paired_runs(), references=REFS)
    cmp = board.add_paired('mtl')
    pairs = {p.method: p for p in cmp.pairs}
    jd, kd, one = pairs['jd'], pairs['kd'], pairs['kd_static']
    assert jd.diffs == pytest.approx({0: 1.0, 1: 2.0, 2: 3.0})
    half = 4.302652730 / math.sqrt(3)  # t_{0.975, 2} · s / √n with s = 1
    assert jd.interval(0.95) == pytest.approx((2 - half, 2 + half))
    assert not jd.separated(0.95)  # [-0.48, +4.48]
    half80 = 1.885618083 / math.sqrt(3)
    assert jd.interval(0.8) == pytest.approx((2 - half80, 2 + half80)) and jd.separated(0.8)  # [+0.91, +3.09]
    assert jd.sign_p == pytest.approx(0.25) and kd.sign_p == pytest.approx(1.0)
    assert one.interval() is None and not one.separated()

    board80 = build_leaderboard(_paired_runs(), references=REFS, level=0.8)
    board80.add_paired('mtl')
    text = to_text(board80)
    assert 'Separated from mtl at 80%: jd +2.00 [+0.91, +3.09] (3 seeds, ahead in 3/3, sign test p = 0.25).' \
        in text
    # kd: mean 1, s = 3, t_{0.9, 2} · 3 / √3 = 3.27
    assert 'Not separated from mtl at 80%: kd_static +5.00 (1 seed: no interval); kd +1.00 [-2.27, +4.27] ' \
        '(3 seeds, ahead in 2/3, sign test p = 1).' in text
    assert '80% Student-t confidence interval of the mean difference (n − 1 degrees of freedom)' in text
    text95 = to_text(board)
    assert 'Separated from mtl at 95%: none.' in text95 and 'jd +2.00 [-0.48, +4.48]' in text95
    md = paired_markdown(cmp.pairs, cmp.reference, 'mtl', cmp.level)
    assert '| jd | 3 | 0: +1.00, 1: +2.00, 2: +3.00 | +2.00 ± 1.00 | 3/3 | [-0.48, +4.48] | 0.25 |' in md
    assert '| kd_static | 1 | 0: +5.00 | +5.00 | 1/1 | - | 1 |' in md
    data = json.loads(to_json(board80))['paired'][0]
    assert data['baseline'] == 'mtl' and data['level'] == 0.8
    jd_json = next(m for m in data['methods'] if m['method'] == 'jd')
    assert jd_json['separated'] and jd_json['interval'] == pytest.approx([2 - half80, 2 + half80])
    with pytest.raises(ValueError, match='between 0 and 1'):
        build_leaderboard(_paired_runs(), references=REFS, level=95)
    with pytest.raises(ValueError, match='needs a Δm reference'):
        build_leaderboard(_paired_runs()).add_paired('mtl')


# ------------------------------------------------------------------------------------------ teacher check
def _teacher_runs(depth_abs_err=6.45):
    """The issue's measurement: teacher_depth barely ahead of stl_depth on abs_err, clearly on rel_err."""
    return [
        RunRecord('stl_seg', 0, dict(mIoU=24.2, pixel_acc=75.0), role='reference'),
        RunRecord('stl_depth', 0, dict(abs_err=6.48, rel_err=0.35), role='reference'),
        RunRecord('teacher_seg', 0, dict(mIoU=26.1, pixel_acc=80.0), role='teacher'),
        RunRecord('teacher_depth', 0, dict(abs_err=depth_abs_err, rel_err=0.30), role='teacher'),
        RunRecord('mtl', 0, dict(mIoU=20.0, pixel_acc=70.0, abs_err=6.5, rel_err=0.36)),
    ]


def test_teacher_check_warns_in_the_footer(tmp_path):
    refs = {'teachers': ['teacher_seg', 'teacher_depth'], 'stl': ['stl_seg', 'stl_depth']}  # teachers first
    board = build_leaderboard(_teacher_runs(), references=refs, teacher_margin=dict(relative=0.05))
    assert len(board.warnings) == 1
    warning = board.warnings[0]
    assert warning.startswith(
        'WARNING: teacher teacher_depth is not ahead of its single-task reference by the margin (5% on each '
        'metric, in its direction): abs_err 6.45 vs 6.48 (stl_depth): 0.5% better.')
    assert 'rel_err' not in warning  # 14% better
    text = to_text(board)
    assert text.rstrip().endswith(warning)  # the footer: the last line
    md = to_markdown(board)
    assert md.rstrip().endswith(f'- {warning}')
    assert json.loads(to_json(board))['warnings'] == [warning]

    worse = build_leaderboard(_teacher_runs(6.6), references=refs, teacher_margin=dict(relative=0.0))
    assert worse.warnings and 'abs_err 6.6 vs 6.48 (stl_depth): 1.9% worse' in worse.warnings[0]
    strict = build_leaderboard(_teacher_runs(), references=refs, teacher_margin=dict(relative=0.1))
    seg = next(w for w in strict.warnings if 'teacher_seg' in w)
    assert 'mIoU 26.1 vs 24.2 (stl_seg): 7.9% better; pixel_acc 80 vs 75 (stl_seg): 6.7% better' in seg
    zero = build_leaderboard(_teacher_runs(), references=refs, teacher_margin=dict(relative=0.0))
    assert zero.warnings == []
    assert build_leaderboard(_teacher_runs(), references=refs).warnings == []  # no margin: no check
    only_teachers = build_leaderboard(_teacher_runs(), references={'t': ['teacher_seg', 'teacher_depth']},
                                      teacher_margin=dict(relative=0.05))
    assert all('not checked against a single-task reference' in w for w in only_teachers.warnings)
    for bad in (dict(relative=-0.1), dict(absolute=1.0), 0.05):
        with pytest.raises(ValueError, match='teacher_margin'):
            build_leaderboard(_teacher_runs(), references=refs, teacher_margin=bad)


# ------------------------------------------------------------------------------------------------- chart
def test_chart_plots_delta_m_against_training_cost_with_roles(tmp_path):
    costs = {m: dict(train_time=t, latency=5.0) for m, t in
             dict(stl_seg=0.1, stl_depth=0.2, mtl=0.3, jd=0.5, teacher_seg=0.4).items()}
    board = build_leaderboard(_runs(), costs=costs, references=REFS)
    assert [c.key for c in board.extra_columns] == ['train_time']
    assert 'train_time' not in [c.key for c in board.columns]  # the tables keep their columns
    points = {p.label: p for p in chart_points(board, board.column('train_time'), board.column('delta_m'))}
    assert set(points) == {'jd', 'mtl', 'stl_seg + stl_depth'}  # teacher_seg alone has no Δm: no point
    jd = points['jd']
    assert (jd.role, jd.x, jd.y) == ('method', 0.5, pytest.approx(1.25))
    assert jd.yerr == pytest.approx(12.70620474 * 7.5 / math.sqrt(2) / math.sqrt(2))  # 95% t, 2 seeds
    stl = points['stl_seg + stl_depth']
    assert (stl.role, stl.x, stl.y, stl.yerr) == ('reference', pytest.approx(0.3), pytest.approx(0.0), None)

    runs = _runs() + [RunRecord('teacher_depth', 0, dict(abs_err=0.55, rel_err=0.1), role='teacher')]
    costs['teacher_depth'] = dict(train_time=0.6)
    board = build_leaderboard(runs, costs=costs, references=REFS)
    teachers = next(p for p in chart_points(board, board.column('train_time'), board.column('delta_m'))
                    if p.role == 'teacher')
    # mIoU 70 vs 51, pixel_acc 90 vs 81, abs_err 0.55 vs 1.1, rel_err 0.1 vs 0.2
    expected = 100 / 4 * ((70 - 51) / 51 + (90 - 81) / 81 + 0.5 + 0.5)
    assert teachers.label == 'teacher_seg + teacher_depth' and teachers.x == pytest.approx(1.0)
    assert teachers.y == pytest.approx(expected)
    assert plot_leaderboard(board, str(tmp_path / 'chart.png')) == str(tmp_path / 'chart.png')
    assert (tmp_path / 'chart.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    no_cost = build_leaderboard(_runs(), references=REFS)  # no training times: one point per method
    assert plot_leaderboard(no_cost, str(tmp_path / 'cat.png')) is not None
    assert plot_leaderboard(build_leaderboard(_runs()), str(tmp_path / 'none.png')) is None  # no Δm
