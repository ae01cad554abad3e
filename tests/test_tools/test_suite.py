"""The suite runner with an injected fake command runner: nothing trains, result files are written."""
import json
import os
import os.path as osp
import shutil

import pytest
import torch

from jdbench.benchmark.progress import Progress, Work, format_duration, parse_train_line
from jdbench.benchmark.render import to_csv, to_text
from jdbench.benchmark.suite import Suite, SuiteRunner, run_state

MODEL_CFG = """
train_cfg = dict(type='IterBasedTrainLoop', max_iters=1000, val_interval=500)
param_scheduler = [dict(type='LinearLR', by_epoch=False, begin=0, end=100),
                   dict(type='PolyLR', by_epoch=False, begin=100, end=1000)]
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=500), logger=dict(type='LoggerHook',
interval=50))
_ds = dict(type='SynthDriveDataset', data_root='data/x', generate=dict(num_train=10, num_val=2))
train_dataloader = dict(batch_size=8, num_workers=2, persistent_workers=True, dataset=dict(
    **_ds, pipeline=[dict(type='LoadImageFromFile'), dict(type='RandomResizeDepth', scale=(256, 128)),
                     dict(type='RandomCrop', crop_size=(128, 256))]))
val_dataloader = dict(batch_size=1, num_workers=2, dataset=dict(
    **_ds, pipeline=[dict(type='LoadImageFromFile'), dict(type='Resize', scale=(256, 128))]))
test_dataloader = val_dataloader
"""
STUDENT = "model = dict(type='JointStudent')\n"
# a distiller names its teachers by config (here not normalised: the suite matches the paths all the same)
DISTILLER = """model = dict(type='JD', teachers=dict(
    seg=dict(config={cfgs!r} + '/../configs/seg_teacher.py', checkpoint='work_dirs/seg_teacher/final.pth'),
    depth=dict(config={cfgs!r} + '/depth_teacher.py', checkpoint='work_dirs/depth_teacher/final.pth')),
    trajectory=dict(files=dict()))
"""

# metrics each model's (fake) run reports
METRICS = {
    'seg_teacher': dict(mIoU=60.0, pixel_acc=90.0),
    'depth_teacher': dict(abs_err=0.8, rel_err=0.15, d1=0.9),
    'stl_seg': dict(mIoU=50.0, pixel_acc=80.0),
    'stl_depth': dict(abs_err=1.0, rel_err=0.2, d1=0.8),
    'mtl': dict(mIoU=50.0, pixel_acc=80.0, abs_err=1.0, rel_err=0.2, d1=0.8),
    'jd': dict(mIoU=55.0, pixel_acc=80.0, abs_err=0.9, rel_err=0.2,
               d1=0.85),  # Δm = (10 + 0 + 10 + 0) / 4 = 5
}


def _opt(cmd, key):
    """Value of ``key=...`` among a command's --cfg-options (or of a --flag)."""
    if key.startswith('--'):
        return cmd[cmd.index(key) + 1]
    return next((a.split('=', 1)[1] for a in cmd if a.startswith(key + '=')), None)


def _model_name(work_dir):
    parts = work_dir.rstrip('/').split('/')
    return parts[-1] if parts[-2] == 'teachers' else parts[-2]


def _checkpoint(path):
    """A small file that loads (the suite trusts only checkpoints that do)."""
    torch.save(dict(state_dict=dict(w=torch.zeros(1)), meta=dict()), path)


def _latency(name):
    return dict(median_ms=40.0 if 'teacher' in name else 8.0, repeats=3, batch_size=1, device='cpu', threads=1)


class FakeRunner:
    """Plays tools/train.py (final.pth + a final validation in scalars.json), tools/test.py (metrics.json),
    tools/analyze_cost.py (cost.json) and the data step; ``fail`` names runs to fail (work dir substrings)."""

    def __init__(self, fail=(), interrupt=()):
        self.calls, self.fail, self.interrupt = [], set(fail), set(interrupt)
        self.latency_jobs = []

    def kind(self, cmd):
        if 'prepare-data' in cmd:
            return 'data'
        if 'jdbench.benchmark' in cmd:
            return cmd[cmd.index('jdbench.benchmark') + 1]  # latency (prepare-data: above)
        return osp.basename(cmd[1]).split('.')[0]

    def __call__(self, cmd, log_file, on_line):
        kind = self.kind(cmd)
        self.calls.append((kind, cmd))
        if kind == 'train':
            wd, iters = _opt(cmd, '--work-dir'), int(_opt(cmd, 'train_cfg.max_iters'))
            os.makedirs(wd, exist_ok=True)
            if any(f in wd for f in self.fail):
                return 1
            if any(f in wd for f in self.interrupt):  # dies half-way, leaving a checkpoint
                _checkpoint(osp.join(wd, f'iter_{iters // 2}.pth'))
                with open(osp.join(wd, 'last_checkpoint'), 'w') as f:
                    f.write(osp.join(wd, f'iter_{iters // 2}.pth'))
                return 1
            for it in (iters // 2, iters):
                on_line(f'11/21 10:00:00 - mmengine - INFO - Iter(train) [{it:>4}/{iters}]  eta: 0:00:05')
            os.makedirs(osp.join(wd, '20250101_000000', 'vis_data'))
            with open(osp.join(wd, '20250101_000000', 'vis_data', 'scalars.json'), 'w') as f:
                f.write(json.dumps(dict(loss=1.0, step=iters)) + '\n')
                f.write(
                    json.dumps(dict(**METRICS[_model_name(wd)], data_time=0.1, time=0.2, step=iters)) + '\n')
            _checkpoint(osp.join(wd, 'final.pth'))
        elif kind == 'test':
            out = _opt(cmd, '--metrics-out')
            with open(out, 'w') as f:
                json.dump(METRICS[_model_name(osp.dirname(out))], f)
        elif kind == 'analyze_cost':
            out = _opt(cmd, '--out')
            os.makedirs(osp.dirname(out), exist_ok=True)
            name = osp.basename(osp.dirname(out))
            big = 'teacher' in name
            record = dict(config=cmd[2], input_size=[64, 128],
                          params=dict(total=10, trainable=10, deployed=12e6 if big else 1e6),
                          flops=dict(total=20e9 if big else 2e9),
                          train=dict(iter_time_s=1.0 if big else 0.5, train_mem_mb=400.0 if big else 300.0))
            if '--no-latency' not in cmd:
                record['latency'] = _latency(name)
            with open(out, 'w') as f:
                json.dump(record, f)
        elif kind == 'latency':
            with open(cmd[cmd.index('latency') + 1]) as f:
                job = json.load(f)
            self.latency_jobs.append(job)
            with open(_opt(cmd, '--out'), 'w') as f:
                json.dump({name: _latency(name) for name in job['models']}, f)
        return 0


@pytest.fixture
def suite_file(tmp_path):
    cfgs = tmp_path / 'configs'
    cfgs.mkdir()
    for name in ('seg_teacher', 'depth_teacher', 'stl_seg', 'stl_depth', 'mtl'):
        (cfgs / f'{name}.py').write_text(MODEL_CFG + STUDENT)
    (cfgs / 'jd.py').write_text(MODEL_CFG + DISTILLER.format(cfgs=str(cfgs)))
    suite = tmp_path / 'suite.py'
    suite.write_text(f"""
name = 'toy'
out_dir = {str(tmp_path / 'out')!r}
teachers = dict(seg_teacher={str(cfgs / 'seg_teacher.py')!r}, depth_teacher={str(cfgs /
'depth_teacher.py')!r})
methods = dict(stl_seg={str(cfgs / 'stl_seg.py')!r}, stl_depth={str(cfgs / 'stl_depth.py')!r},
               mtl={str(cfgs / 'mtl.py')!r}, jd={str(cfgs / 'jd.py')!r})
seeds = [0, 1]
max_iters = dict(teacher=40, student=20)
val_interval = 20
log_interval = 5
data = dict(data_root='data/tiny', num_train=16, num_val=4, size=(32, 64), batch_size=2, num_workers=0)
evaluate = 'val'
references = dict(stl=['stl_seg', 'stl_depth'], teachers=['seg_teacher', 'depth_teacher'])
cost = dict(repeats=3, warmup=1, train_iters=1)
cost_compare = dict(subject='jd', groups=dict(teachers=['seg_teacher', 'depth_teacher'], mtl=['mtl']))
quick = dict(seeds=[0], max_iters=dict(student=4), data=dict(num_train=4))
""")
    return str(suite)


def _kinds(fake):
    return [k for k, _ in fake.calls]


def test_fresh_run_trains_everything_and_ends_in_the_leaderboard(suite_file, tmp_path):
    fake, lines = FakeRunner(), []
    board = SuiteRunner(Suite.from_file(suite_file), fake, lines.append).run()
    kinds = _kinds(fake)
    assert kinds[0] == 'data'
    assert kinds.count('train') == 2 + 4 * 2  # teachers once, every method per seed
    assert kinds.count('test') == 0  # evaluate='val': the final validations were reused
    assert kinds.count('analyze_cost') == 6 and kinds[-1] == 'latency'  # one interleaved latency run
    assert all('--no-latency' in c for k, c in fake.calls if k == 'analyze_cost')
    job = fake.latency_jobs[0]
    assert list(job['models']) == ['seg_teacher', 'depth_teacher', 'stl_seg', 'stl_depth', 'mtl', 'jd']
    assert job['settings']['input_size'] == [64, 128] and job['settings']['repeats'] == 3
    assert job['models']['jd']['options']['model.teachers.seg.checkpoint'] == str(
        tmp_path / 'out/teachers/seg_teacher/final.pth')
    trained = [_opt(c, '--work-dir') for k, c in fake.calls if k == 'train']
    assert trained[:2] == [
        str(tmp_path / 'out/teachers/seg_teacher'),
        str(tmp_path / 'out/teachers/depth_teacher')
    ]
    assert trained[2:6] == [str(tmp_path / f'out/{m}/seed0') for m in ('stl_seg', 'stl_depth', 'mtl', 'jd')]

    jd = next(r for r in board.rows if r.method == 'jd')
    assert jd.rank == 1 and jd.values['delta_m'].mean == pytest.approx(5.0) and jd.complete
    assert jd.values['delta_m'].std == pytest.approx(0.0)
    out = tmp_path / 'out'
    for name in ('leaderboard.md', 'leaderboard.csv', 'leaderboard.json', 'leaderboard.png',
                 'leaderboard.txt', 'cost_comparison.txt', 'suite.json'):
        assert (out / name).is_file(), name
    assert (out / 'leaderboard.csv').read_text() == to_csv(board)
    comparison = (out / 'cost_comparison.txt').read_text()
    assert 'jd vs teachers (seg_teacher + depth_teacher): 96% fewer parameters (1.00M vs 24.00M)' \
        in comparison
    text = '\n'.join(lines)
    assert '[1/10] seg_teacher seed 0: started' in text and '[10/10] jd seed 1: done' in text
    assert 'iter 10/20 (50%), run eta 0:00:05' in text
    assert 'ETA ' in text and "Δm vs teachers (%)" in text


def test_rerun_skips_finished_runs(suite_file):
    SuiteRunner(Suite.from_file(suite_file), FakeRunner(), lambda s: None).run()
    fake, lines = FakeRunner(), []
    SuiteRunner(Suite.from_file(suite_file), fake, lines.append).run()
    assert fake.calls == []  # no data step, training, evaluation or cost measurement
    assert sum('skipped (metrics.json exists)' in ln for ln in lines) == 10
    assert not any('WARNING' in ln for ln in lines)
    # the suite's data changed since: finished runs are kept, with a warning naming what changed
    lines = []
    SuiteRunner(Suite.from_file(suite_file, cfg_options={'data.num_train': 32}), FakeRunner(), lines.append).run()
    warnings = [ln for ln in lines if 'WARNING' in ln]
    assert len(warnings) == 10
    assert 'made with other settings than the suite now gives it (test_dataloader.dataset.generate.num_train, ' \
        'train_dataloader.dataset.generate.num_train, val_dataloader.dataset.generate.num_train)' in warnings[0]


def test_interrupted_run_is_resumed_and_trained_runs_only_evaluated(suite_file, tmp_path):
    suite = Suite.from_file(suite_file)
    SuiteRunner(suite, FakeRunner(interrupt=['mtl/seed1']), lambda s: None).run(costs=False)
    mtl1 = next(r for r in suite.runs() if r.label == 'mtl seed 1')
    assert run_state(mtl1) == 'resume'
    # trained (final.pth) but not evaluated: jd seed 1 without its scalars (tools/test.py), jd seed 0 with them
    # (the final validation is reused)
    jd1 = next(r for r in suite.runs() if r.label == 'jd seed 1')
    jd0 = next(r for r in suite.runs() if r.label == 'jd seed 0')
    os.remove(jd1.metrics_path)
    os.remove(jd0.metrics_path)
    shutil.rmtree(osp.join(jd1.work_dir, '20250101_000000'))
    assert run_state(jd1) == run_state(jd0) == 'evaluate'

    fake, lines = FakeRunner(), []
    board = SuiteRunner(Suite.from_file(suite_file), fake, lines.append).run(costs=False)
    train = [c for k, c in fake.calls if k == 'train']
    assert len(train) == 1 and '--resume' in train[0] and _opt(train[0], '--work-dir') == mtl1.work_dir
    tests = [c for k, c in fake.calls if k == 'test']
    assert len(tests) == 1 and tests[0][2] == str(tmp_path / 'configs/jd.py')
    assert tests[0][3] == osp.join(jd1.work_dir, 'final.pth')
    assert any('resuming from iteration 10' in ln for ln in lines)
    assert any('metrics from the final validation' in ln for ln in lines)
    assert all(r.complete for r in board.rows)
    assert json.load(open(jd0.metrics_path)) == METRICS['jd']


def test_failed_run_leaves_an_incomplete_row(suite_file):
    runner = SuiteRunner(Suite.from_file(suite_file), FakeRunner(fail=['jd/seed1']), lambda s: None)
    board = runner.run(costs=False)
    jd = next(r for r in board.rows if r.method == 'jd')
    assert not jd.complete and jd.seeds_cell == '1/2 incomplete'
    assert len(runner.failures) == 1 and 'training jd seed 1' in runner.failures[0]
    assert 'jd seed 1: no results (training unfinished' in to_text(board)


def test_commands_carry_the_suite_options(suite_file, tmp_path):
    fake = FakeRunner()
    SuiteRunner(Suite.from_file(suite_file, cfg_options={'evaluate': 'test'}), fake, lambda s: None).run()
    train = {_opt(c, '--work-dir'): c for k, c in fake.calls if k == 'train'}
    mtl = train[str(tmp_path / 'out/mtl/seed1')]
    assert _opt(mtl, 'randomness.seed') == '1' and _opt(mtl, 'train_cfg.max_iters') == '20'
    assert _opt(mtl, 'train_cfg.val_interval') == '20' and _opt(mtl,
                                                                'default_hooks.checkpoint.interval') == '20'
    assert _opt(mtl, 'default_hooks.logger.interval') == '5'
    # LR schedule scaled 1000 -> 20 iterations
    assert _opt(mtl, 'param_scheduler.0.end') == '2' and _opt(mtl, 'param_scheduler.1.end') == '20'
    # data: root, rendering size and counts, pipeline resolution, loader settings
    assert _opt(mtl, 'train_dataloader.dataset.data_root') == 'data/tiny'
    assert _opt(mtl, 'val_dataloader.dataset.generate.size') == '(32,64)'
    assert _opt(mtl, 'train_dataloader.dataset.pipeline.1.scale') == '(64,32)'
    assert _opt(mtl, 'train_dataloader.dataset.pipeline.2.crop_size') == '(32,64)'
    assert _opt(mtl, 'test_dataloader.dataset.pipeline.1.scale') == '(64,32)'
    assert _opt(mtl, 'train_dataloader.batch_size') == '2' and _opt(mtl, 'val_dataloader.num_workers') == '0'
    assert not [a for a in mtl if a.startswith(('model.teachers', 'model.trajectory'))]  # not a distiller
    jd = train[str(tmp_path / 'out/jd/seed0')]
    for task in ('seg', 'depth'):  # the teachers' runs of this suite: checkpoints and trajectories
        assert _opt(jd, f'model.teachers.{task}.checkpoint') == str(
            tmp_path / f'out/teachers/{task}_teacher/final.pth')
        assert _opt(jd, f'model.trajectory.files.{task}') == str(
            tmp_path / f'out/teachers/{task}_teacher/trajectory.pth')
    teacher = train[str(tmp_path / 'out/teachers/seg_teacher')]
    assert _opt(teacher, 'train_cfg.max_iters') == '40'
    tests = [c for k, c in fake.calls if k == 'test']
    assert len(tests) == 10  # evaluate='test': tools/test.py for every run
    assert all(_opt(c, 'train_dataloader.dataset.data_root') == 'data/tiny' for c in tests)


def test_quick_variant_and_selection(suite_file):
    quick = Suite.from_file(suite_file, quick=True)
    assert quick.seeds == [0] and len(quick.runs()) == 2 + 4
    assert next(m for m in quick.models if m.name == 'mtl').max_iters == 4
    assert next(m for m in quick.models if m.name == 'seg_teacher').max_iters == 40  # untouched
    assert quick.data['num_train'] == 4 and quick.data['size'] == (32, 64)
    only = Suite.from_file(suite_file, methods=['jd'], seeds=[3])
    assert [r.label for r in only.runs()] == [
        'seg_teacher seed 0', 'depth_teacher seed 0', 'stl_seg seed 3', 'stl_depth seed 3', 'jd seed 3'
    ]


def test_subset_runs_add_to_the_folder_listing(suite_file, tmp_path):
    """A later --methods/--seeds run (or another suite sharing the folder) extends suite.json, never shrinks it."""
    SuiteRunner(Suite.from_file(suite_file, methods=['mtl'], seeds=[0]), FakeRunner(), lambda s: None).run()
    SuiteRunner(Suite.from_file(suite_file, methods=['jd'], seeds=[1]), FakeRunner(), lambda s: None).run()
    manifest = json.loads((tmp_path / 'out' / 'suite.json').read_text())
    runs = {m['name']: [r['seed'] for r in m['runs']] for m in manifest['models']}
    assert runs == {'seg_teacher': [0], 'depth_teacher': [0], 'stl_seg': [0, 1], 'stl_depth': [0, 1], 'jd': [1],
                    'mtl': [0]}
    assert manifest['seeds'] == [0, 1]
    board = SuiteRunner(Suite.from_file(suite_file, methods=['jd'], seeds=[1]), FakeRunner(), lambda s: None).report()
    assert {r.method for r in board.rows} >= {'mtl', 'jd'}


def test_a_subset_run_remeasures_every_latency_in_one_session(suite_file):
    """A --methods run that adds a model measures the latencies of all the suite's models again, together."""
    SuiteRunner(Suite.from_file(suite_file, methods=['mtl']), FakeRunner(), lambda s: None).run()
    fake = FakeRunner()
    SuiteRunner(Suite.from_file(suite_file, methods=['jd']), fake, lambda s: None).run()
    assert _kinds(fake).count('analyze_cost') == 1  # only jd's cost is new
    assert list(fake.latency_jobs[0]['models']) == ['seg_teacher', 'depth_teacher', 'stl_seg', 'stl_depth', 'mtl',
                                                    'jd']


def test_damaged_suite_json_is_a_clear_error(suite_file, tmp_path):
    (tmp_path / 'out').mkdir()
    (tmp_path / 'out' / 'suite.json').write_text('{"models": [')  # cut off mid-write
    with pytest.raises(ValueError, match='suite.json is damaged .* delete it and rerun'):
        Suite.from_file(suite_file).write_manifest()
    assert (tmp_path / 'out' / 'suite.json').read_text() == '{"models": ['  # left as it was


def test_a_distiller_whose_teacher_the_suite_does_not_train_is_a_clear_error(suite_file, tmp_path):
    suite = Suite.from_file(suite_file, cfg_options={'teachers.depth_teacher': None,
                                                     'references.teachers': ['seg_teacher']})
    fake = FakeRunner()
    with pytest.raises(ValueError, match=r"method 'jd': .*teacher 'depth' is .*depth_teacher.py', which the "
                       r'suite does not train; add that config to the suite\'s teachers'):
        SuiteRunner(suite, fake, lambda s: None).run()
    assert fake.calls == []  # found before anything ran
    with pytest.raises(ValueError, match='unknown cost setting'):
        Suite.from_file(suite_file, cfg_options={'cost.repeat': 3})


def test_bad_suite_configs(tmp_path, suite_file):
    with pytest.raises(FileNotFoundError, match='suite config'):
        Suite.from_file(str(tmp_path / 'nope.py'))
    with pytest.raises(ValueError, match="reference 'stl' names \\['nothing'\\]"):
        Suite.from_file(suite_file, cfg_options={'references': dict(stl=['nothing'])})
    with pytest.raises(ValueError, match='evaluate must be one of'):
        Suite.from_file(suite_file, cfg_options={'evaluate': 'train'})
    with pytest.raises(ValueError, match='unknown method'):
        Suite.from_file(suite_file, methods=['mtl', 'foo'])
    suite = Suite.from_file(suite_file, cfg_options={'methods.mtl': str(tmp_path / 'missing.py')})
    with pytest.raises(FileNotFoundError, match='missing.py'):
        SuiteRunner(suite, FakeRunner(), lambda s: None).run()


def test_progress_eta_from_finished_runs():
    now = [0.0]
    lines = []
    plan = [Work('a', 'method', 100), Work('b', 'method', 100), Work('t', 'teacher', 10, evaluate=False)]
    prog = Progress(plan, lines.append, clock=lambda: now[0])
    prog.start('a')
    now[0] = 50.0
    prog.record(trained_iters=100, train_seconds=40.0, eval_seconds=10.0)
    prog.finish()
    # b: 100 iters * 0.4 s + 10 s eval; t: the teacher rate is unknown, the student rate stands in: 10 * 0.4
    assert prog.eta() == pytest.approx(40.0 + 10.0 + 4.0)
    assert lines[-1] == '[1/3] a: done in 50s; suite elapsed 50s, ETA 54s'
    assert parse_train_line('Iter(train) [ 50/200]  lr: 1.0e-03  eta: 0:01:10  time: 0.3') == (50, 200,
                                                                                               '0:01:10')
    assert parse_train_line('Iter(val) [5/10]') is None
    assert format_duration(3725) == '1h02m05s' and format_duration(None) == '?'


def test_default_suite_configs_load():
    default = Suite.from_file('configs/benchmarks/synthdrive.py')
    names = [m.name for m in default.models]
    for required in ('teacher_seg', 'teacher_depth', 'mtl', 'kd_static', 'kd4mtl', 'jointdistill'):
        assert required in names
    assert default.seeds == [0] and default.references['stl'] == ['stl_seg', 'stl_depth']
    quick = Suite.from_file('configs/benchmarks/synthdrive.py', quick=True)
    quick_file = Suite.from_file('configs/benchmarks/synthdrive_quick.py')
    assert quick.manifest()['models'] == quick_file.manifest()['models']
    assert quick.models[0].max_iters < default.models[0].max_iters
    full = Suite.from_file('configs/benchmarks/synthdrive_full.py')
    assert full.seeds == [0, 1, 2, 3, 4] and full.data['num_train'] > default.data['num_train']
    for suite in (default, full):  # teachers trained longer than the students (issue 10: teachers worth distilling)
        iters = {m.role: m.max_iters for m in suite.models}
        assert iters['teacher'] >= 2 * iters['method']
    ablations = Suite.from_file('configs/benchmarks/synthdrive_ablations.py')
    assert ablations.out_dir == full.out_dir  # the full comparison's finished runs are reused
    assert ablations.seeds == [0, 1, 2]
    assert {'jd_no_feedback', 'jd_no_trajectory', 'jd_no_connector', 'jointdistill', 'jd_stride8',
            'jd_stride8_fused_loss', 'kd4mtl_stride8'} <= {m.name for m in ablations.models}
    weighting = Suite.from_file('configs/benchmarks/synthdrive_weighting.py')
    assert {m.name for m in weighting.models} >= {'mtl_ew', 'mtl_pcgrad', 'mtl_nashmtl', 'mtl_famo'}
    distill = Suite.from_file('configs/benchmarks/synthdrive_weighting_distill.py')
    for suite in (default, full, ablations, weighting, distill):
        suite.check_configs()  # every distiller's teachers are trained by the suite
    jd = next(m for m in ablations.models if m.name == 'jointdistill')
    teachers = 'work_dirs/benchmarks/synthdrive_full/teachers'
    assert ablations.teacher_options(jd) == {
        **{f'model.teachers.{t}.checkpoint': f'{teachers}/{t}_synthdrive/final.pth' for t in ('seg', 'depth')},
        **{f'model.trajectory.files.{t}': f'{teachers}/{t}_synthdrive/trajectory.pth' for t in ('seg', 'depth')}
    }
