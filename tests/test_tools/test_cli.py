"""The command-line tools: tools/test.py (--compare and the single-checkpoint form), tools/visualize.py,
tools/analyze_cost.py --compare, on hand-written result folders and a tiny rendered SynthDrive."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from PIL import Image

from jdbench.benchmark.collect import collect_dir
from jdbench.benchmark.config_utils import data_cfg_options, load_model_config, to_cli_options
from jdbench.benchmark.report import evaluate_missing
from jdbench.utils import load_weights, weights_target

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool(name):
    spec = importlib.util.spec_from_file_location(f'jdbench_tool_{name}',
                                                  osp.join(ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _main(monkeypatch, name, *argv):
    monkeypatch.setattr(sys, 'argv', [f'tools/{name}.py', *map(str, argv)])
    return _tool(name).main()


def _write(path, data):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(data, f)


@pytest.fixture
def results(tmp_path):
    """OUT/<method>/seed<k>/metrics.json: stl_seg, stl_depth, mtl (2 seeds), jd (1 of 2 seeds evaluated)."""
    out = tmp_path / 'out'
    _write(out / 'stl_seg/seed0/metrics.json', dict(mIoU=50.0, pixel_acc=80.0))
    _write(out / 'stl_depth/seed0/metrics.json', dict(abs_err=1.0, rel_err=0.2, d1=0.8))
    _write(out / 'mtl/seed0/metrics.json', dict(mIoU=50.0, pixel_acc=80.0, abs_err=1.0, rel_err=0.2, d1=0.8))
    _write(out / 'mtl/seed1/metrics.json', dict(mIoU=52.0, pixel_acc=80.0, abs_err=1.0, rel_err=0.2, d1=0.8))
    _write(out / 'jd/seed0/metrics.json', dict(mIoU=55.0, pixel_acc=80.0, abs_err=0.9, rel_err=0.2, d1=0.85))
    os.makedirs(out / 'jd/seed1')
    (out / 'jd/seed1/final.pth').write_bytes(b'')  # trained, not evaluated
    _write(out / 'jd/cost.json',
           dict(params=dict(deployed=1.0e6), flops=dict(total=2e9), latency=dict(median_ms=8.0)))
    return out


def test_compare_folder_prints_sorts_and_exports(results, tmp_path, monkeypatch, capsys):
    rc = _main(monkeypatch, 'test', '--compare', results, '--sort-by', 'mIoU', '--out-dir',
               tmp_path / 'board', '--export', tmp_path / 'x.csv', '--no-eval')
    out = capsys.readouterr().out
    assert rc == 0
    assert out.index('| jd ') < out.index('| mtl ') < out.index('| stl_seg ')  # by mIoU, higher first
    assert "single-task reference 'stl': mIoU = 50 (stl_seg, 1 seed)" in out  # stl_seg + stl_depth by default
    assert '1/2 incomplete' in out and 'jd seed 1: no results (not evaluated yet' in out
    assert 'Sorted by mIoU (%)' in out
    assert '| 1 | jd | 1/2 incomplete | **55.00** |' in (tmp_path / 'board/leaderboard.md').read_text()
    board = json.loads((tmp_path / 'board/leaderboard.json').read_text())
    jd = next(r for r in board['rows'] if r['method'] == 'jd')
    assert jd['values']['delta_m'] == dict(mean=5.0, std=None, n=1)
    assert jd['values']['params'] == dict(mean=1.0e6, std=None, n=1)
    assert (tmp_path / 'x.csv').read_text().splitlines()[1].startswith('1,jd,method,1,2,0,')
    assert (tmp_path / 'board/leaderboard.png').is_file()


def test_compare_paired_by_seed(results, tmp_path, monkeypatch, capsys):
    assert _main(monkeypatch, 'test', '--compare', results, '--paired', 'mtl', '--out-dir', tmp_path / 'b',
                 '--no-eval') == 0
    assert '| jd | 1 | 0: +5.00 | +5.00 | 1/1 |' in capsys.readouterr().out  # seed 0 only: jd seed 1 unevaluated
    assert '| jd | 1 |' in (tmp_path / 'b/paired_mtl.md').read_text()
    assert _main(monkeypatch, 'test', '--compare', results, '--paired', 'kd', '--no-eval') == 2
    assert "paired comparison: no runs of 'kd'" in capsys.readouterr().err


def test_compare_bad_inputs_give_clear_messages(results, tmp_path, monkeypatch, capsys):
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert _main(monkeypatch, 'test', '--compare', empty) == 2
    assert 'no results in' in capsys.readouterr().err
    assert _main(monkeypatch, 'test', '--compare', tmp_path / 'nowhere') == 2
    assert 'does not exist' in capsys.readouterr().err
    assert _main(monkeypatch, 'test', '--compare', 'configs/baselines/mtl_synthdrive.py',
                 tmp_path / 'missing.pth') == 2
    assert "checkpoint '" in capsys.readouterr().err
    assert _main(monkeypatch, 'test', '--compare', results, '--sort-by', 'speed', '--no-eval') == 2
    err = capsys.readouterr().err
    assert "cannot sort by 'speed' (unknown column); choose one of: mIoU, pixel_acc" in err
    unfinished = tmp_path / 'unfinished/mtl/seed0'
    os.makedirs(unfinished / '20250101_000000' / 'vis_data')
    assert _main(monkeypatch, 'test', '--compare', tmp_path / 'unfinished', '--no-eval') == 2
    assert 'no run has results to compare (mtl: training unfinished' in capsys.readouterr().err
    assert _main(monkeypatch, 'test', 'configs/baselines/mtl_synthdrive.py', tmp_path / 'missing.pth') == 2
    assert "missing.pth' does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _main(monkeypatch, 'test', 'configs/baselines/mtl_synthdrive.py', '--compare', results)
    with pytest.raises(SystemExit):
        _main(monkeypatch, 'test', 'configs/baselines/mtl_synthdrive.py')


def test_compare_reports_different_metric_sets(results, monkeypatch, capsys):
    _write(results / 'mtl/seed1/metrics.json', dict(mIoU=52.0, pixel_acc=80.0))
    assert _main(monkeypatch, 'test', '--compare', results, '--no-eval') == 0
    assert 'mtl seed 1: different metric set, lacks abs_err, rel_err, d1' in capsys.readouterr().out


def test_evaluate_missing_runs_tools_test(results):
    col = collect_dir(str(results))
    jd1 = next(r for r in col.runs if r.method == 'jd' and r.seed == 1)
    jd1.config = 'configs/jd_synthdrive.py'
    calls = []

    def fake(cmd, log_file, on_line):
        calls.append(cmd)
        _write(cmd[cmd.index('--metrics-out') + 1], dict(mIoU=51.0))
        return 0

    assert evaluate_missing(col, fake, lambda s: None, {'model.teachers.seg.checkpoint': 'T'}) == 1
    assert calls[0][2:4] == ['configs/jd_synthdrive.py', jd1.checkpoint]
    assert calls[0][-1] == 'model.teachers.seg.checkpoint=T' and jd1.metrics == dict(mIoU=51.0)


class _Distiller(torch.nn.Module):

    def __init__(self):
        super().__init__()
        self.student = torch.nn.Linear(2, 2)
        self.connector = torch.nn.Linear(2, 1)


def test_weights_target_finds_student_only_checkpoints():
    model = _Distiller()
    assert weights_target(model, model.state_dict()) == (model, 'model')
    assert weights_target(model, model.student.state_dict()) == (model.student, 'student')


def test_a_student_only_checkpoint_that_does_not_fit_says_to_use_the_student_config(tmp_path):
    model = _Distiller()
    other = torch.nn.Linear(3, 2)  # another student
    torch.save(dict(state_dict=other.state_dict()), tmp_path / 'final.pth')
    with pytest.raises(ValueError, match=r'(?s)a student-only checkpoint.*shape mismatches.*evaluate it with '
                       'the student config it was trained with'):
        load_weights(model, str(tmp_path / 'final.pth'))
    torch.save(dict(state_dict=model.student.state_dict()), tmp_path / 'final.pth')
    fresh = _Distiller()
    assert load_weights(fresh, str(tmp_path / 'final.pth')) == 'student'
    assert torch.equal(fresh.student.weight, model.student.weight)


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    """cfg-options for a 4 + 2 image SynthDrive at 32x64, rendered once."""
    root = str(tmp_path_factory.mktemp('synthdrive') / 'data')
    cfg = load_model_config('configs/baselines/mtl_synthdrive.py')
    opts = data_cfg_options(
        cfg, dict(data_root=root, num_train=4, num_val=2, size=(32, 64), batch_size=2, num_workers=0))
    from jdbench.benchmark.child import prepare_data
    assert prepare_data('configs/baselines/mtl_synthdrive.py',
                        opts)[-1].startswith('val_dataloader: 2 samples')
    return opts


def test_visualize_student_only_checkpoint_of_a_distiller(tiny_data, tmp_path, monkeypatch, capsys):
    from jdbench.benchmark.config_utils import build_model
    from jdbench.visualization import panel_size
    random_teachers = {'model.teachers.seg.checkpoint': None, 'model.teachers.depth.checkpoint': None}
    cfg = load_model_config('configs/baselines/kd_static_synthdrive.py', {**tiny_data, **random_teachers})
    ckpt = tmp_path / 'final.pth'
    torch.save(dict(state_dict=build_model(cfg).student.state_dict()), ckpt)
    opts = to_cli_options({**tiny_data, **random_teachers})
    rc = _main(monkeypatch, 'visualize', 'configs/baselines/kd_static_synthdrive.py', ckpt, '--num', 2,
               '--out', tmp_path / 'vis', '--cfg-options', *opts)
    assert rc == 0
    pngs = sorted(os.listdir(tmp_path / 'vis'))
    assert len(pngs) == 2 and '[2/2]' in capsys.readouterr().out
    h, w = panel_size(32, 64, 6)
    with Image.open(tmp_path / 'vis' / pngs[0]) as im:
        assert im.size == (w, h)
    bad = tmp_path / 'bad.pth'
    torch.save(dict(state_dict={'nothing': torch.zeros(1)}), bad)
    assert _main(monkeypatch, 'visualize', 'configs/baselines/kd_static_synthdrive.py', bad, '--cfg-options',
                 *opts) == 2
    assert 'does not match the model' in capsys.readouterr().err


def test_tools_load_a_run_whose_dumped_config_reorders_the_heads(tiny_data, tmp_path, monkeypatch):
    """mmengine dumps a run's config with its dict keys sorted (heads depth, seg); the checkpoint's weighting
    balances ['seg', 'depth']: the objectives are matched by name."""
    from mmengine.config import Config

    from jdbench.benchmark.config_utils import build_model
    cfg = load_model_config('configs/baselines/mtl_synthdrive.py', tiny_data)
    ckpt = tmp_path / 'final.pth'
    torch.save(dict(state_dict=build_model(cfg).state_dict()), ckpt)
    dumped = tmp_path / 'mtl_synthdrive.py'
    cfg.dump(str(dumped))
    assert list(Config.fromfile(str(dumped)).model.heads) == ['depth', 'seg']
    assert _main(monkeypatch, 'visualize', dumped, ckpt, '--num', 1, '--out', tmp_path / 'vis') == 0
    assert len(os.listdir(tmp_path / 'vis')) == 1


def test_single_checkpoint_form_writes_metrics(tiny_data, tmp_path):
    from jdbench.benchmark.config_utils import build_model
    cfg = load_model_config('configs/baselines/stl_seg_synthdrive.py', tiny_data)
    ckpt = tmp_path / 'final.pth'
    torch.save(dict(state_dict=build_model(cfg).state_dict()), ckpt)
    out = tmp_path / 'metrics.json'
    proc = subprocess.run([
        sys.executable,
        osp.join(ROOT, 'tools/test.py'), 'configs/baselines/stl_seg_synthdrive.py',
        str(ckpt), '--work-dir',
        str(tmp_path / 'wd'), '--metrics-out',
        str(out), '--cfg-options', *to_cli_options(tiny_data)
    ],
                          capture_output=True,
                          text=True,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    metrics = json.loads(out.read_text())
    assert {'mIoU', 'pixel_acc'} <= set(metrics)


def test_analyze_cost_compare(monkeypatch, tmp_path, capsys):
    rc = _main(monkeypatch, 'analyze_cost', '--compare', 'mtl=configs/baselines/mtl_synthdrive.py',
               'stl=configs/baselines/stl_seg_synthdrive.py+configs/baselines/stl_depth_synthdrive.py',
               '--no-train', '--no-latency', '--input-size', 32, 64, '--out', tmp_path / 'cmp.json')
    out = capsys.readouterr().out
    assert rc == 0
    # 940,332 vs 903,275 + 902,105 = 1,805,380 parameters
    assert ('mtl vs stl (stl_seg_synthdrive + stl_depth_synthdrive): 48% fewer parameters (0.94M vs 1.81M)'
            in out)
    data = json.loads((tmp_path / 'cmp.json').read_text())
    assert data['comparison']['groups']['stl']['combined']['params'] == 1805380
    assert _main(monkeypatch, 'analyze_cost', '--compare', 'a=configs/nope.py') == 2
    assert 'config(s) not found' in capsys.readouterr().err


def test_visualize_reads_the_original_image_of_an_mtan_release(tmp_path):
    """MTAN images are .npy arrays (RGB floats in [0, 1]), not pictures: the panel shows them as RGB uint8."""
    import importlib.util

    import numpy as np
    spec = importlib.util.spec_from_file_location('visualize_tool', 'tools/visualize.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    rgb = np.zeros((2, 3, 3), np.float32)
    rgb[..., 0] = 1.0  # red
    np.save(tmp_path / '0.npy', rgb)
    image = tool.original_image(str(tmp_path / '0.npy'), None)
    assert image.dtype == np.uint8 and image.shape == (2, 3, 3)
    assert (image[..., 0] == 255).all() and (image[..., 1:] == 0).all()
