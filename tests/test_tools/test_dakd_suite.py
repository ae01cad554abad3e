"""The Domain Adaptive KD suite (configs/benchmarks/synthdrive_dakd.py): its plan, the per-stream data options
(a source and a target root in one config), the source-mIoU evaluation (a second evaluation of each run's final
weights), the per-class IoU, the share of the source-only -> oracle gap each method closes, and the leaderboard
from a fake run of the whole suite. Only the evaluation path and the cost of one adaptation step run for real,
on tiny rendered domains."""
import json
import math
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from jdbench.benchmark.aggregate import gap_closed, per_class_scores
from jdbench.benchmark.config_utils import data_cfg_options, stream_roots, to_cli_options
from jdbench.benchmark.records import RunRecord
from jdbench.benchmark.suite import Suite, SuiteRunner

SUITE = 'configs/benchmarks/synthdrive_dakd.py'
SRC, TGT = 'data/synthdrive_suite_gta5_day_cityA_n400_64x128', 'data/synthdrive_suite_fog_cityB_n400_64x128'
DAKD = ['dakd_feature_source', 'dakd_feature_target', 'dakd_output_source', 'dakd_output_target', 'dakd_all',
        'dakd_all_lowres']
METHODS = ['source_only', 'adaptsegnet', *DAKD, 'oracle']


# ------------------------------------------------------------------------------------------------ the plan
def test_plan_models_and_settings(tmp_path):
    suite = Suite.from_file(SUITE)
    suite.check_configs()
    roles = {m.name: m.role for m in suite.models}
    assert roles == dict(teacher_source_only='teacher', teacher_adapted='teacher', source_only='reference',
                         adaptsegnet='method', **{m: 'method' for m in DAKD}, oracle='reference')
    assert suite.seeds == [0, 1, 2] and suite.evaluate == 'val'
    runs = [(r.model.name, r.seed) for r in suite.runs()]
    assert runs == [('teacher_source_only', 0), ('teacher_adapted', 0)] + [(m, s) for s in (0, 1, 2)
                                                                           for m in METHODS]
    assert {m.name: m.max_iters for m in suite.models}['teacher_adapted'] == 1000
    assert {m.name: m.max_iters for m in suite.models}['dakd_all'] == 500
    assert suite.references == dict(source_only=['source_only']) and suite.dm_metrics == ['mIoU']
    assert suite.gap == dict(low='source_only', high='oracle', metric='mIoU')
    assert [(e.name, e.dataloader, e.evaluator, e.prefix) for e in suite.extra_evaluations] == [
        ('source', 'source_val_dataloader', 'source_val_evaluator', 'source_')]
    assert all(suite.extra_evaluations_of(m) == suite.extra_evaluations for m in suite.models)
    assert suite.leaderboard['paired'] == ['source_only', 'adaptsegnet']
    assert suite.leaderboard['metrics'] == ['mIoU', 'pixel_acc', 'source_mIoU', 'source_pixel_acc']
    manifest = suite.manifest()
    assert manifest['gap'] == suite.gap and manifest['leaderboard_metrics'] == suite.leaderboard['metrics']
    # every DAKD method is pointed at the suite's adapted teacher
    adapted = 'work_dirs/benchmarks/synthdrive_dakd/teachers/adaptsegnet_teacher_synthdrive_day2fog/final.pth'
    for name in DAKD:
        model = next(m for m in suite.models if m.name == name)
        assert suite.teacher_options(model) == {'model.teachers.seg.checkpoint': adapted}
    fresh = Suite.from_file(SUITE, cfg_options={'out_dir': str(tmp_path)})  # no finished run in it
    lines = SuiteRunner(fresh).describe()  # what --dry-run prints
    assert lines[0] == f'suite synthdrive_dakd: 29 runs, output {tmp_path}'
    assert sum(line.lstrip().startswith('$ ') for line in lines) == 29
    quick = Suite.from_file(SUITE, quick=True)
    assert quick.seeds == [0] and quick.data['streams']['source']['seed'] == 0  # kept from the full block
    assert quick.data['streams']['target']['data_root'] == 'data/synthdrive_suite_fog_cityB_n32_32x64'


def test_bad_suite_settings():
    with pytest.raises(ValueError, match=r"gap names \['upper'\], which the suite does not train"):
        Suite.from_file(SUITE, cfg_options={'gap.high': 'upper'})
    with pytest.raises(ValueError, match='gap.low and gap.high are both'):
        Suite.from_file(SUITE, cfg_options={'gap.high': 'source_only'})
    with pytest.raises(ValueError, match=r'extra_evaluations.source: give dict\(dataloader='):
        Suite.from_file(SUITE, cfg_options={'extra_evaluations.source.loader': 'x'})
    suite = Suite.from_file(SUITE, cfg_options={'extra_evaluations.source.dataloader': 'nowhere_dataloader'})
    with pytest.raises(ValueError, match="no config of the suite has 'nowhere_dataloader'"):
        suite.check_configs()


# ------------------------------------------------------------------------------------------- data streams
def _roots(opts: dict) -> dict:
    return {k[:-len('.data_root')]: v for k, v in opts.items() if k.endswith('.data_root')}


@pytest.mark.parametrize('method', ['dakd_all', 'source_only', 'oracle', 'teacher_adapted'])
def test_each_domain_gets_its_own_stream_block(method):
    suite = Suite.from_file(SUITE)
    opts = suite.common_options(next(m for m in suite.models if m.name == method))
    roots = _roots(opts)
    trained_on = dict(source_only=SRC, oracle=TGT)
    if method in trained_on:
        assert roots['train_dataloader.dataset'] == trained_on[method]
    else:
        assert roots['train_dataloader.dataset.streams.source'] == SRC
        assert roots['train_dataloader.dataset.streams.target'] == TGT
        assert opts['train_dataloader.dataset.streams.source.generate.style'] == 'day'
        assert opts['train_dataloader.dataset.streams.target.generate.city'] == 'B'
        assert opts['train_dataloader.dataset.streams.target.generate.seed'] == 1
    for loader in ('val', 'test'):  # evaluated on the target
        assert roots[f'{loader}_dataloader.dataset'] == TGT
        assert opts[f'{loader}_dataloader.dataset.generate.style'] == 'fog'
    assert roots['source_val_dataloader.dataset'] == SRC
    assert opts['source_val_dataloader.dataset.generate.city'] == 'A'
    assert opts['val_dataloader.dataset.generate.num_val'] == 40 and opts['train_dataloader.batch_size'] == 4
    assert opts['val_dataloader.dataset.pipeline.1.scale'] == (128, 64)  # the shared size
    assert opts['val_evaluator.per_class'] is True and 'source_val_evaluator.per_class' not in opts
    extra = suite.extra_eval_options(next(m for m in suite.models if m.name == method), suite.extra_evaluations[0])
    assert extra['source_val_dataloader.num_workers'] == 0
    assert extra['source_val_dataloader.persistent_workers'] is False


def test_stream_rules_and_errors():
    cfg = Config.fromfile('configs/dakd/source_only_student_synthdrive_day2fog.py')
    assert stream_roots(cfg, ['source', 'target']) == {'data/synthdrive_gta5_day_cityA': 'source',
                                                      'data/synthdrive_fog_cityB': 'target'}
    # a single block (no streams): every dataset gets the same root, as before
    single = data_cfg_options(cfg, dict(data_root='data/one', num_train=8))
    assert set(_roots(single).values()) == {'data/one'}
    # streams take the top-level keys and override them; a dataset of no stream keeps the top-level block
    opts = data_cfg_options(cfg, dict(num_train=8, size=(32, 64), streams=dict(target=dict(num_train=6))))
    assert opts['train_dataloader.dataset.generate.num_train'] == 8  # the source: no source block
    assert opts['val_dataloader.dataset.generate.num_train'] == 6
    assert opts['val_dataloader.dataset.generate.size'] == (32, 64)
    assert not _roots(opts)  # no root given anywhere: the configs' roots stay
    cfg.target_root = cfg.source_root  # one root for two streams cannot be told apart
    with pytest.raises(ValueError, match="belongs to stream 'source' and to 'target'"):
        data_cfg_options(cfg, dict(streams=dict(source=dict(data_root='a'), target=dict(data_root='b'))))
    with pytest.raises(ValueError, match=r'data.streams must be dict\(<stream>=dict'):
        data_cfg_options(cfg, dict(streams=['source']))


# ----------------------------------------------------------------------------------------------- gap closed
def _run(method, seed, miou, role='method'):
    return RunRecord(method, seed, dict(mIoU=miou), role)


def test_gap_closed_known_answer():
    runs = [_run('low', s, v, 'reference') for s, v in enumerate([10.0, 12.0, 14.0])]
    runs += [_run('high', s, v, 'reference') for s, v in enumerate([50.0, 52.0, 54.0])]
    runs += [_run('m', s, v) for s, v in enumerate([22.0, 32.0, 42.0])]  # (10, 20, 30) / 40: 25, 50, 75 %
    runs += [_run('one', 0, 62.0)]  # 125 %: beyond the upper bound, one seed
    runs += [RunRecord('unfinished', 0, None)]
    gap = gap_closed(runs, 'low', 'high')
    assert (gap.low_value.mean, gap.high_value.mean, gap.metric) == (12.0, 52.0, 'mIoU')
    m = gap.values['m']
    assert (m.mean, m.std, m.n) == (pytest.approx(50.0), pytest.approx(25.0), 3)
    half = 4.302652729911275 * 25.0 / math.sqrt(3)  # t_{0.975, 2} (tables) · s / √n = 62.1034
    assert gap.interval('m') == pytest.approx((-12.1034, 112.1034), abs=1e-4)
    assert gap.interval('m') == pytest.approx((50.0 - half, 50.0 + half))
    assert gap.values['one'].mean == pytest.approx(125.0) and gap.interval('one') is None
    assert gap.values['low'].mean == pytest.approx(0.0) and gap.values['high'].mean == pytest.approx(100.0)
    assert 'unfinished' not in gap.values
    lower_is_better = [RunRecord(n, 0, dict(abs_err=v)) for n, v in (('low', 8.0), ('high', 4.0), ('m', 7.0))]
    assert gap_closed(lower_is_better, 'low', 'high', 'abs_err').values['m'].mean == pytest.approx(25.0)
    with pytest.raises(ValueError, match="the high end 'nobody' has no run with 'mIoU'"):
        gap_closed(runs, 'low', 'nobody')
    with pytest.raises(ValueError, match='there is no gap'):
        gap_closed([_run('low', 0, 5.0), _run('high', 0, 5.0)], 'low', 'high')


def test_per_class_scores_skip_nan():
    runs = [RunRecord('a', 0, {'mIoU': 1.0, 'IoU.road': 90.0, 'IoU.sky': float('nan')}),
            RunRecord('a', 1, {'mIoU': 1.0, 'IoU.road': 80.0, 'IoU.sky': 40.0}),
            RunRecord('b', 0, {'mIoU': 1.0})]
    classes, scores = per_class_scores(runs)
    assert classes == ['road', 'sky'] and set(scores) == {'a'}
    assert scores['a']['road'].mean == 85.0 and scores['a']['road'].n == 2
    assert (scores['a']['sky'].mean, scores['a']['sky'].n) == (40.0, 1)


# ---------------------------------------------------------------------------------- the suite, fake runs
TARGET_MIOU = dict(source_only=[20.0, 22.0, 24.0], oracle=[60.0, 62.0, 64.0], dakd_all=[30.0, 32.0, 34.0],
                   adaptsegnet=[26.0, 24.0, 28.0], teacher_source_only=[28.0], teacher_adapted=[40.0])
CLASSES = ('road', 'sky')


def _opt(cmd, key):
    if key.startswith('--'):
        return cmd[cmd.index(key) + 1]
    return next((a.split('=', 1)[1] for a in cmd if a.startswith(key + '=')), None)


def _name_seed(work_dir):
    parts = work_dir.rstrip('/').split('/')
    if parts[-2] == 'teachers':
        return ('teacher_adapted' if 'adaptsegnet' in parts[-1] else 'teacher_source_only'), 0
    return parts[-2], int(parts[-1][len('seed'):])


def _target_miou(name, seed):
    return TARGET_MIOU[name][seed] if name in TARGET_MIOU else 25.0 + seed


class FakeDAKDRunner:
    """Plays tools/train.py (final.pth, a final validation with per-class IoU), the source evaluation
    (``python -m jdbench.benchmark evaluate``), tools/analyze_cost.py, the latency job and the data step."""

    def __init__(self, fail_source=()):
        self.calls, self.fail_source = [], set(fail_source)

    @staticmethod
    def kind(cmd):
        if 'jdbench.benchmark' in cmd:
            return cmd[cmd.index('jdbench.benchmark') + 1]
        return osp.basename(cmd[1]).split('.')[0]

    def __call__(self, cmd, log_file, on_line):
        kind = self.kind(cmd)
        self.calls.append((kind, cmd))
        if kind == 'train':
            wd, iters = _opt(cmd, '--work-dir'), int(_opt(cmd, 'train_cfg.max_iters'))
            name, seed = _name_seed(wd)
            miou = _target_miou(name, seed)
            os.makedirs(osp.join(wd, '20250101_000000', 'vis_data'))
            with open(osp.join(wd, '20250101_000000', 'vis_data', 'scalars.json'), 'w') as f:
                f.write(json.dumps(dict(loss=1.0, step=iters)) + '\n')
                f.write(json.dumps({'mIoU': miou, 'pixel_acc': 70.0, 'IoU.road': miou + 10, 'IoU.sky': miou - 10,
                                    'data_time': 0.1, 'time': 0.2, 'step': iters}) + '\n')
            torch.save(dict(state_dict=dict(w=torch.zeros(1)), meta=dict()), osp.join(wd, 'final.pth'))
        elif kind == 'test':  # tools/test.py on the target
            out = _opt(cmd, '--metrics-out')
            name, seed = _name_seed(osp.dirname(out))
            with open(out, 'w') as f:
                json.dump({'mIoU': _target_miou(name, seed), 'pixel_acc': 71.0}, f)
        elif kind == 'evaluate':
            out = _opt(cmd, '--metrics-out')
            if any(f in out for f in self.fail_source):
                return 1
            name, seed = _name_seed(osp.dirname(out))
            prefix = _opt(cmd, '--prefix')
            with open(out, 'w') as f:
                json.dump({f'{prefix}mIoU': 80.0 - seed, f'{prefix}pixel_acc': 95.0}, f)
        elif kind == 'analyze_cost':
            out = _opt(cmd, '--out')
            os.makedirs(osp.dirname(out), exist_ok=True)
            with open(out, 'w') as f:
                json.dump(dict(config=cmd[2], input_size=[64, 128], params=dict(total=10, deployed=1e6),
                               flops=dict(total=2e9), train=dict(iter_time_s=0.3, train_mem_mb=300.0)), f)
        elif kind == 'latency':
            with open(cmd[cmd.index('latency') + 1]) as f:
                job = json.load(f)
            with open(_opt(cmd, '--out'), 'w') as f:
                json.dump({n: dict(median_ms=5.0, repeats=3, batch_size=1, device='cpu', threads=1)
                           for n in job['models']}, f)
        return 0


@pytest.fixture
def suite(tmp_path):
    return Suite.from_file(SUITE, out_dir=str(tmp_path / 'out'))


def test_whole_suite_ends_in_the_leaderboard(suite, tmp_path):
    fake, lines = FakeDAKDRunner(fail_source=['dakd_all/seed2']), []
    runner = SuiteRunner(suite, fake, lines.append)
    runner.run()
    # the source evaluation: one per run, on the source's val split, its loader without worker processes
    evals = [c for k, c in fake.calls if k == 'evaluate']
    assert len(evals) == 29
    cmd = next(c for c in evals if '/oracle/seed1/' in _opt(c, '--metrics-out'))
    assert _opt(cmd, '--dataloader') == 'source_val_dataloader'
    assert _opt(cmd, '--evaluator') == 'source_val_evaluator' and _opt(cmd, '--prefix') == 'source_'
    assert _opt(cmd, 'source_val_dataloader.num_workers') == '0'
    assert _opt(cmd, 'source_val_dataloader.dataset.data_root') == SRC
    assert cmd[cmd.index('evaluate') + 2].endswith('oracle/seed1/final.pth')
    with open(osp.join(suite.out_dir, 'oracle', 'seed1', 'metrics.json')) as f:
        assert json.load(f) == {'mIoU': 62.0, 'pixel_acc': 70.0, 'IoU.road': 72.0, 'IoU.sky': 52.0,
                                'source_mIoU': 79.0, 'source_pixel_acc': 95.0}
    # the failed source evaluation: no metrics.json (the run is not done), the rest goes on
    failed = osp.join(suite.out_dir, 'dakd_all', 'seed2')
    assert not osp.isfile(osp.join(failed, 'metrics.json')) and osp.isfile(osp.join(failed, 'final.pth'))
    assert any('evaluating dakd_all seed 2 on source_val_dataloader FAILED' in line for line in lines)
    # a rerun evaluates it (no training; the data step checks the data first, as for any unfinished run)
    fake2 = FakeDAKDRunner()
    board = SuiteRunner(Suite.from_file(SUITE, out_dir=suite.out_dir), fake2, lambda s: None).run()
    assert [k for k, _ in fake2.calls] == ['prepare-data', 'evaluate']
    assert _opt(fake2.calls[1][1], '--metrics-out') == osp.join(failed, 'metrics_source.json')
    # the board: target and source columns, Δm vs source_only, gap closed, per-class IoU, paired
    assert [c.key for c in board.columns][:5] == ['mIoU', 'pixel_acc', 'source_mIoU', 'source_pixel_acc',
                                                  'delta_m']
    rows = {r.method: r for r in board.rows}
    assert rows['dakd_all'].values['mIoU'].mean == 32.0 and rows['oracle'].values['source_mIoU'].mean == 79.0
    assert rows['dakd_all'].values['delta_m'].mean == pytest.approx(100 * 10 / 22)
    notes = ' '.join(board.notes)
    assert 'Gap closed on mIoU (source_only → oracle)' in notes
    assert 'dakd_all 25.0% [' in notes and 'adaptsegnet 10.0% [' in notes
    assert 'teacher_adapted 45.0% (1 seed, teacher)' in notes
    with open(osp.join(suite.out_dir, 'gap_closed.json')) as f:
        gap = json.load(f)
    assert gap['methods']['dakd_all']['mean'] == pytest.approx(25.0)
    assert gap['methods']['dakd_all']['std'] == pytest.approx(5.0)
    text = open(osp.join(suite.out_dir, 'leaderboard.txt'), encoding='utf-8').read()
    assert 'Source mIoU (%)' in text and 'Per-class IoU (%)' in text
    assert 'Gap closed: teacher_adapted 45.0% (1 seed, teacher); dakd_all 25.0% [12.6, 37.4] (3 seeds);' in text
    assert 'Gap closed on mIoU' in open(osp.join(suite.out_dir, 'leaderboard.md'), encoding='utf-8').read()
    per_class = open(osp.join(suite.out_dir, 'per_class_iou.md'), encoding='utf-8').read()
    assert '| road | ' in per_class and '42.00' in per_class  # dakd_all: 32 + 10
    csv_lines = open(osp.join(suite.out_dir, 'per_class_iou.csv')).read().splitlines()
    assert csv_lines[0] == 'method,class,iou_mean,iou_std,iou_n'
    assert 'dakd_all,sky,22.0,2.0,3' in csv_lines
    assert [c.baseline for c in board.paired] == ['source_only', 'adaptsegnet']
    vs_asn = {p.method: p for p in board.paired[1].pairs}
    # Δm differences vs adaptsegnet at each seed: 100 · (dakd_all_s − adaptsegnet_s) / 22
    assert vs_asn['dakd_all'].diffs == pytest.approx({0: 100 * 4 / 22, 1: 100 * 8 / 22, 2: 100 * 6 / 22})
    assert 'oracle' not in vs_asn and osp.isfile(osp.join(suite.out_dir, 'paired_adaptsegnet.md'))
    # tools/test.py --compare on the folder shows the same gap (recorded in suite.json)
    from jdbench.benchmark.report import compare
    logs = []
    again = compare([suite.out_dir], evaluate=False, log=logs.append)
    assert any('dakd_all 25.0% [12.6, 37.4]' in n for n in again.notes)
    assert 'Per-class IoU (%)' in '\n'.join(logs)


def test_test_evaluation_and_the_source_evaluation_make_one_metrics_file(tmp_path):
    """evaluate='test': tools/test.py writes metrics_test.json, merged with the source metrics into
    metrics.json."""
    suite = Suite.from_file(SUITE, out_dir=str(tmp_path / 'out'), methods=['source_only'], seeds=[0],
                            cfg_options={'evaluate': 'test'})
    assert [m.name for m in suite.models] == ['teacher_source_only', 'teacher_adapted', 'source_only', 'oracle']
    fake = FakeDAKDRunner()
    SuiteRunner(suite, fake, lambda s: None).run(costs=False)
    assert [k for k, _ in fake.calls].count('test') == 4 and [k for k, _ in fake.calls].count('evaluate') == 4
    run_dir = osp.join(suite.out_dir, 'source_only', 'seed0')
    with open(osp.join(run_dir, 'metrics.json')) as f:
        assert json.load(f) == {'mIoU': 20.0, 'pixel_acc': 71.0, 'source_mIoU': 80.0, 'source_pixel_acc': 95.0}
    assert osp.isfile(osp.join(run_dir, 'metrics_test.json')) and osp.isfile(osp.join(run_dir, 'metrics_source.json'))


# ------------------------------------------------------------------------------------- real, tiny domains
def test_source_evaluation_path_on_tiny_domains(tmp_path, monkeypatch):
    """A source-only student trained 2 iterations under the Runner with the suite's options (tiny data): its
    final validation carries the target's per-class IoU, and the extra evaluation of its final.pth on the
    source's val split gives source_mIoU."""
    from mmengine.runner import Runner

    from jdbench.benchmark.child import main as child_main
    from jdbench.benchmark.evaluate import use_loader
    from jdbench.benchmark.rundir import final_val_per_class
    from jdbench.utils.runner_utils import load_config
    from jdbench.utils.scalars import final_val_metrics
    monkeypatch.setattr(Config, 'pretty_text', property(lambda self: repr(self._cfg_dict.to_dict())))
    suite = Suite.from_file(SUITE, cfg_options={
        'data.size': (32, 64), 'data.batch_size': 2,
        'data.streams.source.data_root': str(tmp_path / 'src'), 'data.streams.source.num_train': 4,
        'data.streams.source.num_val': 2, 'data.streams.target.data_root': str(tmp_path / 'tgt'),
        'data.streams.target.num_train': 4, 'data.streams.target.num_val': 3, 'max_iters.student': 2,
        'val_interval': 2})
    model = next(m for m in suite.models if m.name == 'source_only')
    run = next(r for r in suite.runs() if r.model is model)
    work_dir = str(tmp_path / 'run')
    cfg = load_config(model.config, suite.train_options(run), work_dir)
    cfg.visualizer.name = 'dakd_suite_source_eval'
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] != 'TrainingPlotHook']
    runner = Runner.from_cfg(cfg)
    with torch.serialization.safe_globals([getattr]):
        runner.train()
    assert final_val_metrics(work_dir, 2)['mIoU'] >= 0
    per_class = final_val_per_class(work_dir, 2)
    assert len(per_class) == 19 and 'IoU.road' in per_class and 'IoU.traffic light' in per_class
    assert final_val_per_class(work_dir, 3) == {}  # no validation at that iteration
    extra = suite.extra_evaluations[0]
    out = str(tmp_path / 'metrics_source.json')
    argv = ['evaluate', model.config, osp.join(work_dir, 'final.pth'), '--dataloader', extra.dataloader,
            '--evaluator', extra.evaluator, '--prefix', extra.prefix, '--metrics-out', out, '--work-dir',
            str(tmp_path / 'eval'), '--cfg-options', *to_cli_options(suite.extra_eval_options(model, extra)),
            'visualizer.name=dakd_suite_source_eval_test']
    assert child_main(argv) == 0
    with open(out) as f:
        metrics = json.load(f)
    assert set(metrics) == {'source_mIoU', 'source_pixel_acc'}
    assert 0 <= metrics['source_mIoU'] <= 100 and 0 < metrics['source_pixel_acc'] <= 100
    with pytest.raises(ValueError, match="the config has no 'nowhere_dataloader' to evaluate on; its loaders: "
                                         r"\['source_val_dataloader', 'test_dataloader'"):
        use_loader(Config.fromfile(model.config), 'nowhere_dataloader')


def test_cost_of_an_adaptation_step():
    """The suite's cost step times an adaptation model on one synthetic batch per stream."""
    from jdbench.benchmark.measure import run_train_measurement, synthetic_stream_batch
    from jdbench.benchmark.records import CostSettings
    batch = synthetic_stream_batch(2, (8, 12), 19)
    assert set(batch) == {'source', 'target'}
    assert not torch.equal(batch['source']['inputs'][0], batch['target']['inputs'][0])
    step = run_train_measurement('configs/dakd/adaptsegnet_student_synthdrive_day2fog.py', None,
                                 CostSettings(input_size=(32, 64), train_batch_size=2, train_iters=1,
                                              train_warmup=1))
    assert step['iter_time_s'] > 0 and step['batch_size'] == 2 and step['input_shape'] == [3, 32, 64]
