import pytest
import torch
import torch.nn as nn

from jdbench.benchmark.aggregate import combine_summaries
from jdbench.benchmark.measure import (count_flops, count_parameters, deployed_model, measure_calls_interleaved,
                                       measure_latency, measure_train_step, parameter_breakdown, settled, synthetic_batch,
                                       trajectory_feed)
from jdbench.benchmark.records import CostSettings
from jdbench.benchmark.render import compare_costs, ratio_phrase
from jdbench.registry import MODELS


class ConvLinear(nn.Module):
    """conv 3->4 (3x3, bias): 3*4*9 + 4 = 112; linear 4->2: 4*2 + 2 = 10; total 122."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 2)

    def _forward(self, x):
        return {'out': self.fc(self.conv(x).mean(dim=(2, 3)))}


@MODELS.register_module(name='_CostTestBackbone', force=True)
class TinyBackbone(nn.Module):
    """A 1x1 conv 3->4: 3*4 + 4 = 16 parameters."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        return (self.conv(x), )


def tiny_student():
    """backbone 16 + seg head conv_seg 4*3+3 = 15 + depth head conv_seg 4*1+1 = 5 -> 36 parameters."""
    return MODELS.build(
        dict(
            type='JointStudent',
            data_preprocessor=dict(
                type='JointDataPreProcessor',
                mean=[0.0] * 3,
                std=[255.0] * 3,
                pad_val=0,
                seg_pad_val=255,
                size_divisor=8),
            backbone=dict(type='_CostTestBackbone'),
            heads=dict(
                seg=dict(
                    type='FCNHead',
                    in_channels=4,
                    channels=4,
                    num_convs=0,
                    concat_input=False,
                    num_classes=3,
                    dropout_ratio=0.0,
                    loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
                depth=dict(
                    type='DepthHead',
                    in_channels=4,
                    channels=4,
                    num_convs=0,
                    dropout_ratio=0.0,
                    loss_decode=dict(type='DepthL1Loss', loss_weight=1.0)))))


class FakeDistiller(nn.Module):
    """The distiller contract: a ``student`` sub-module, teachers in a plain dict, connector ModuleDicts."""

    def __init__(self):
        super().__init__()
        self.student = tiny_student()
        self.connectors = nn.ModuleDict(dict(seg=nn.Linear(2, 3), depth=nn.Linear(3, 1)))  # 9 and 4
        teacher = nn.Conv2d(3, 8, 1)  # 32, frozen
        teacher.requires_grad_(False)
        self.teachers = {'seg': teacher}


def test_exact_parameter_counts_of_a_small_known_model():
    model = ConvLinear()
    assert count_parameters(model) == dict(total=122, trainable=122)
    model.fc.requires_grad_(False)
    assert count_parameters(model) == dict(total=122, trainable=112)
    assert parameter_breakdown(model) == {
        'conv': dict(total=112, trainable=112),
        'fc': dict(total=10, trainable=0)
    }


def test_per_component_split_of_a_tiny_joint_student():
    model = tiny_student()
    assert count_parameters(model) == dict(total=36, trainable=36)
    assert parameter_breakdown(model) == {
        'backbone': dict(total=16, trainable=16),
        'heads.seg': dict(total=15, trainable=15),
        'heads.depth': dict(total=5, trainable=5),
    }
    assert deployed_model(model) is model


def test_distiller_split_includes_teachers_and_connectors():
    model = FakeDistiller()
    parts = parameter_breakdown(model)
    assert parts == {
        'student.backbone': dict(total=16, trainable=16),
        'student.heads.seg': dict(total=15, trainable=15),
        'student.heads.depth': dict(total=5, trainable=5),
        'connectors.seg': dict(total=9, trainable=9),
        'connectors.depth': dict(total=4, trainable=4),
        'teachers.seg': dict(total=32, trainable=0),
    }
    assert count_parameters(model) == dict(total=81, trainable=49)
    assert sum(p['total'] for p in parts.values()) == 81
    assert deployed_model(model) is model.student
    assert count_parameters(deployed_model(model))['total'] == 36


def test_flops_of_a_known_conv():
    # conv 3->4, 3x3 on 8x8 (no padding): 6*6 outputs * 4 channels * 27 multiply-adds = 3888; linear: 4*2 = 8
    assert count_flops(ConvLinear(), (3, 8, 8)) == 3888 + 8


def test_flops_of_a_joint_student_ignores_the_weighting_state():
    model = tiny_student()
    # backbone 1x1 conv: 8*8*4*3 = 768; seg conv_seg 8*8*3*4 = 768; depth conv_seg 8*8*1*4 = 256
    assert count_flops(model, (3, 8, 8)) == 768 + 768 + 256


def test_latency_report():
    lat = measure_latency(ConvLinear(), (3, 8, 8), CostSettings(batch_size=2, warmup=1, repeats=5))
    assert lat['repeats'] == 5 and lat['batch_size'] == 2 and lat['input_shape'] == [3, 8, 8]
    assert 0 < lat['min_ms'] <= lat['median_ms'] <= lat['p90_ms']
    assert lat['threads'] == torch.get_num_threads() and lat['device'].startswith('cpu')
    with pytest.raises(ValueError):
        CostSettings(repeats=0)


def test_train_step_measurement_in_process():
    from mmengine.optim import OptimWrapper
    model = tiny_student()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    batch = synthetic_batch(2, (16, 16), num_classes=3)
    out = measure_train_step(model, wrapper, batch, CostSettings(train_iters=2, train_warmup=1), base_mem_mb=10.0)
    assert out['iters'] == 2 and out['iter_time_s'] > 0
    assert out['peak_mem_mb'] > 10.0 and out['train_mem_mb'] == pytest.approx(out['peak_mem_mb'] - 10.0)
    assert 'peak RSS' in out['mem_kind']


def test_warm_up_ends_when_steps_settle():
    # a slow first step (set-up plus a periodic probe) must not end the warm-up while steps still shrink
    assert not settled([5.0, 0.9, 0.6, 0.45])
    assert settled([5.0, 0.9, 0.6, 0.45, 0.31, 0.30, 0.29])
    assert not settled([0.3, 0.3])  # too few


def test_interleaved_calls_rotate_and_count():
    # every callable runs once per warm-up round and once per timed round; timed rounds rotate the order, so
    # that no callable always follows the same one (a slow period of the machine hits all alike)
    order = []
    calls = {name: (lambda n=name: order.append(n)) for name in 'abc'}
    out = measure_calls_interleaved(calls, CostSettings(train_warmup=3, train_iters=4), max_warmup=3)
    assert order[:9] == list('abc') * 3
    assert order[9:] == list('abc') + list('bca') + list('cab') + list('abc')
    assert {name: (r['iters'], r['warmup'], r['interleaved_with']) for name, r in out.items()} == {
        name: (4, 3, 3) for name in 'abc'}
    assert all(0 <= r['iter_time_s'] <= r['iter_time_p90_s'] for r in out.values())


class _FedStudent(nn.Module):
    """Records what a training hook would hand it: ``feed_trajectory(probe, progress)`` before each step."""

    trajectory = object()  # a trajectory term is configured

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(1, 1)
        self.calls = []

    def feed_trajectory(self, probe, progress):
        self.calls.append(('feed', probe, progress))

    def train_step(self, data, optim_wrapper):
        self.calls.append(('step', ))


def test_train_step_measurement_feeds_the_trajectory_as_its_hook_would(monkeypatch):
    """Periodic terms (JointDistill's trajectory probe, every `interval` iterations) keep their rate; nothing is
    read from or written to the message hub."""
    from mmengine.config import Config

    import jdbench.engine.hooks.trajectory_hook as trajectory_hook
    monkeypatch.setattr(trajectory_hook, 'load_probe', lambda loader: ('probe', loader['batch_size']))
    cfg = Config(dict(train_cfg=dict(max_iters=10), custom_hooks=[
        dict(type='TrainingPlotHook'),
        dict(type='TrajectoryHook', probe_dataloader=dict(batch_size=4, dataset=dict(type='X')), interval=2)]))
    model = _FedStudent()
    feed = trajectory_feed(cfg, model)
    out = measure_train_step(model, None, {}, CostSettings(train_iters=3, train_warmup=1), max_warmup=1, feed=feed)
    assert out['warmup'] == 1 and min(out['iter_time_s'], out['iter_time_mean_s']) >= 0
    probe = ('probe', 4)
    assert model.calls == [('feed', probe, 0.0), ('step', ), ('feed', None, 0.1), ('step', ),
                           ('feed', probe, 0.2), ('step', ), ('feed', None, 0.3), ('step', )]
    assert trajectory_feed(Config(dict(custom_hooks=[])), model) is None  # no TrajectoryHook: nothing fed
    assert trajectory_feed(cfg, nn.Linear(1, 1)) is None  # a model without feed_trajectory


def test_ratios_and_comparison_lines():
    assert ratio_phrase(68, 100, 'parameters', ('fewer', 'more'), str) == '32% fewer parameters (68 vs 100)'
    assert ratio_phrase(121, 100, 'latency', ('lower', 'higher'), str) == '21% higher latency (121 vs 100)'
    summaries = {
        'jd': dict(params=1.0e6, flops=2e9, latency=7.9, train_time=0.5, train_mem=73.0),
        'seg': dict(params=2.0e6, flops=3e9, latency=5.0, train_time=0.3, train_mem=100.0),
        'depth': dict(params=2.0e6, flops=3e9, latency=5.0, train_time=0.3, train_mem=80.0),
        'mtl': dict(params=1.0e6, flops=2e9, latency=10.0, train_time=None, train_mem=None),
    }
    both = combine_summaries([summaries['seg'], summaries['depth']])
    assert both == dict(params=4.0e6, flops=6e9, latency=10.0, train_time=pytest.approx(0.6), train_mem=100.0)
    lines, data = compare_costs('jd', summaries, {
        'teachers': ['seg', 'depth'],
        'mtl': ['mtl'],
        'x': ['nope']
    })
    assert lines[0] == (
        'jd vs teachers (seg + depth): 75% fewer parameters (1.00M vs 4.00M), 67% fewer FLOPs '
        '(2.00G vs 6.00G), 21% lower latency (7.90 ms vs 10.00 ms), 17% less training time per '
        'iteration (0.500 s vs 0.600 s), 27% less training memory (73 MB vs 100 MB)')
    assert lines[1] == ('jd vs mtl: 0% fewer parameters (1.00M vs 1.00M), 0% fewer FLOPs (2.00G vs 2.00G), '
                        '21% lower latency (7.90 ms vs 10.00 ms) [same parameter and FLOP counts: the latency '
                        'difference is measurement noise]')
    assert lines[2] == 'jd vs x: no cost for nope'
    assert data['groups']['teachers']['ratios']['params'] == pytest.approx(0.25)
    with pytest.raises(ValueError, match='no cost for'):
        compare_costs('missing', summaries, {})


def test_suite_cost_comparison_notes_missing_training_cost(tmp_path):
    import json

    from jdbench.benchmark.collect import Collection
    from jdbench.benchmark.report import cost_comparison
    records = {
        'jd': dict(params=dict(deployed=1e6), flops=dict(total=2e9), latency=dict(median_ms=5.0),
                   train=dict(error='training-cost measurement failed: ValueError: boom')),
        'mtl': dict(params=dict(deployed=2e6), flops=dict(total=2e9), latency=dict(median_ms=10.0),
                    train=dict(iter_time_s=0.1, train_mem_mb=100.0)),
    }
    for name, rec in records.items():
        (tmp_path / f'{name}.json').write_text(json.dumps(rec))
    col = Collection(cost_paths={n: str(tmp_path / f'{n}.json') for n in records},
                     cost_compare=dict(subject='jd', groups=dict(mtl=['mtl'])))
    lines, data = cost_comparison(col)
    assert lines[0] == ('jd vs mtl: 50% fewer parameters (1.00M vs 2.00M), 0% fewer FLOPs (2.00G vs 2.00G), '
                        '50% lower latency (5.00 ms vs 10.00 ms)')
    assert lines[1].startswith('jd: training cost not measured (training-cost measurement failed: ValueError')
    assert data['groups']['mtl']['ratios']['latency'] == 0.5


def test_worker_children_import_this_checkout_not_the_working_directory(tmp_path):
    """A child started from another checkout's folder must still run this jdbench (PYTHONPATH), not that one."""
    import subprocess
    import sys

    from jdbench.benchmark.child import REPO_ROOT, child_command, child_env
    shadow = tmp_path / 'jdbench'
    shadow.mkdir()
    (shadow / '__init__.py').write_text('raise SystemExit("SHADOW jdbench imported")\n')
    code = 'import jdbench, os; print(os.path.dirname(os.path.dirname(os.path.abspath(jdbench.__file__))))'
    cmd = [c for c in child_command() if c not in ('-m', 'jdbench.benchmark')] + ['-c', code]
    proc = subprocess.run(cmd, cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=120)
    if sys.version_info >= (3, 11):
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == REPO_ROOT and 'SHADOW' not in proc.stderr
