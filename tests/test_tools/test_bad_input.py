"""Bad input to the tools ends in one message that says what is wrong and what to do."""
import errno
import json
import runpy
import sys

import pytest
import torch
from mmengine.config import Config

from jdbench.utils import runner_utils
from jdbench.utils.runner_utils import load_config, unknown_option_warnings

CONFIG = 'configs/baselines/mtl_synthdrive.py'


def _tool(name, argv, capsys, monkeypatch):
    """Run ``tools/<name>.py`` in this process; returns (exit code, stderr)."""
    module = runpy.run_path(f'tools/{name}.py', run_name='jdbench_tool')
    monkeypatch.setattr(sys, 'argv', [f'tools/{name}.py', *argv])
    code = module['main']()
    return code, capsys.readouterr().err


def test_an_empty_config(tmp_path, capsys, monkeypatch):
    empty = tmp_path / 'empty.py'
    empty.write_text('')
    code, err = _tool('train', [str(empty)], capsys, monkeypatch)  # was: KeyError: 'model'
    assert code == 2 and f'error: config {empty} is empty' in err and 'configs/baselines/mtl_synthdrive.py' in err
    no_model = tmp_path / 'no_model.py'
    no_model.write_text('train_cfg = dict(max_iters=3)\n')
    with pytest.raises(ValueError, match=r'no_model.py defines no model \(it has train_cfg\)'):
        load_config(str(no_model))


def test_a_top_level_typo_in_cfg_options_is_named(monkeypatch):
    logged = []
    monkeypatch.setattr(runner_utils, 'print_log', lambda msg, logger=None, level=None: logged.append((msg, level)))
    cfg = load_config(CONFIG, {'train_cgf.max_iters': 3, 'randomness.seed': 1, 'train_cfg.val_interval': 3})
    assert len(logged) == 1 and logged[0][1] == 30  # one WARNING, for the typo only
    assert "--cfg-options train_cgf.max_iters: configs/baselines/mtl_synthdrive.py has no top-level 'train_cgf'" \
        in logged[0][0] and "did you mean 'train_cfg'?" in logged[0][0]
    assert cfg.train_cfg.max_iters == 2000  # what the typo leaves unchanged
    # Runner settings the config does not spell out are known too; a name close to nothing says so
    known = unknown_option_warnings(Config.fromfile(CONFIG), {'load_from': 'x', 'model_wrapper_cfg.type': 'x',
                                                              'zzz': 1})
    assert len(known) == 1 and "it is not a setting of this config or of mmengine's Runner" in known[0]


def test_the_removed_teacher_work_dir_option_says_what_replaced_it():
    with pytest.raises(ValueError, match=r'model.teacher_work_dir no longer exists: each teacher names its own '
                       r'checkpoint.*model.teachers.<task>.checkpoint=DIR/<teacher config name>/final.pth'):
        load_config('configs/jd_synthdrive.py', {'model.teacher_work_dir': 'work_dirs/teachers'})


def test_resume_without_a_checkpoint_says_it_starts_from_scratch(tmp_path):
    train = runpy.run_path('tools/train.py', run_name='jdbench_tool')
    cfg = Config(dict(work_dir=str(tmp_path)))
    notes = train['choose_resume'](cfg, 'auto')
    assert notes == [f'--resume: no checkpoint in {tmp_path}; training starts from iteration 0.']
    assert cfg.resume is False and cfg.load_from is None
    torch.save(dict(state_dict={}, meta=dict(iter=2)), tmp_path / 'iter_2.pth')
    (tmp_path / 'iter_4.pth').write_bytes(b'PK\x03\x04 cut off')  # a save a kill interrupted (older jdbench)
    notes = train['choose_resume'](cfg, 'auto')
    assert cfg.resume is True and cfg.load_from == str(tmp_path / 'iter_2.pth')
    assert 'skipping a checkpoint that does not load' in notes[0] and 'iter_4.pth' in notes[0]
    assert notes[1] == f'--resume: continuing from {tmp_path / "iter_2.pth"}'
    with pytest.raises(FileNotFoundError, match='--resume nope.pth: no such checkpoint'):
        train['choose_resume'](cfg, 'nope.pth')


def test_resume_from_another_models_checkpoint(tmp_path, capsys, monkeypatch):
    """Was: mmengine loaded what fit, then failed with the optimizer's "parameter group" error."""
    from jdbench.registry import MODELS
    teacher = MODELS.build(Config.fromfile('configs/teachers/seg_synthdrive.py').model)
    other = tmp_path / 'iter_100.pth'
    torch.save(dict(state_dict=teacher.state_dict(), optimizer=dict(state={}, param_groups=[]),
                    meta=dict(iter=100)), other)
    code, err = _tool('train', [CONFIG, '--work-dir', str(tmp_path / 'w'), '--resume', str(other)], capsys,
                      monkeypatch)
    assert code == 2 and f'--resume {other} does not match the model built from the config' in err
    assert f'It was trained with another config than {CONFIG}' in err and 'new --work-dir' in err
    weights = tmp_path / 'final.pth'
    torch.save(dict(state_dict=teacher.state_dict()), weights)
    code, err = _tool('train', [CONFIG, '--work-dir', str(tmp_path / 'w'), '--resume', str(weights)], capsys,
                      monkeypatch)
    assert code == 2 and 'holds weights only' in err and f'load_from={weights}' in err


def test_a_full_disk_during_training_names_the_file_and_the_free_space(tmp_path, capsys, monkeypatch):
    from mmengine.runner import Runner
    scalars = str(tmp_path / 'w' / 'vis_data' / 'scalars.json')

    def full(self):
        raise OSError(errno.ENOSPC, 'No space left on device', scalars)

    monkeypatch.setattr(Runner, 'train', full)
    code, err = _tool('train', [CONFIG, '--work-dir', str(tmp_path / 'w')], capsys, monkeypatch)
    assert code == 2 and f'no space left to write {scalars} (' in err and 'MiB free on that disk' in err
    assert 'rerun with --resume' in err


def test_compare_on_a_damaged_suite_json_names_the_file(tmp_path, capsys, monkeypatch):
    (tmp_path / 'suite.json').write_text('{"models": [')  # cut off mid-write
    code, err = _tool('test', ['--compare', str(tmp_path), '--no-eval', '--no-cost'], capsys, monkeypatch)
    assert code == 2 and f'{tmp_path}/suite.json is damaged' in err and 'not valid JSON' in err
    assert 'rerun the suite' in err
    (tmp_path / 'suite.json').write_text(json.dumps(dict(models=[dict(name='mtl')])))  # no runs
    code, err = _tool('test', ['--compare', str(tmp_path), '--no-eval', '--no-cost'], capsys, monkeypatch)
    assert code == 2 and 'suite.json is damaged: "models" should be a list of' in err
