"""Nothing lost: checkpoints and final.pth are written atomically, and a run dir's damaged checkpoints are not
trusted (the suite resumes from an older good one, or retrains, and says so)."""
import errno
import glob
import os
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.fileio import LocalBackend
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import DataLoader, default_collate

from jdbench.benchmark.rundir import inspect_checkpoints, trained_checkpoint
from jdbench.benchmark.suite import Suite, SuiteRunner, run_state
from jdbench.benchmark.suite.spec import ModelSpec, RunSpec
from jdbench.engine.hooks import ExportStudentHook
from jdbench.utils.checkpoint import atomic_save, checkpoint_problem, latest_loadable_checkpoint


class Toy(BaseModel):
    """y = w x, loss = mean(y²): deterministic SGD, so resumed and uninterrupted runs agree exactly."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 1)
        nn.init.constant_(self.fc.weight, 0.5)
        nn.init.constant_(self.fc.bias, 0.1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.fc(inputs)
        return dict(loss=out.pow(2).mean()) if mode == 'loss' else out


def _runner(work_dir, hook='AtomicCheckpointHook', max_keep=1, **kw) -> Runner:
    data = [dict(inputs=torch.tensor([float(i), 1.0])) for i in range(16)]
    return Runner(
        model=Toy(), work_dir=str(work_dir),
        train_dataloader=DataLoader(data, batch_size=2, shuffle=False, collate_fn=default_collate),
        train_cfg=dict(by_epoch=False, max_iters=4),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        default_hooks=dict(checkpoint=dict(type=hook, interval=1, by_epoch=False, max_keep_ckpts=max_keep),
                           logger=dict(type='LoggerHook', interval=100)),
        default_scope='jdbench', log_level='WARNING', **kw)


def _kill_during_save(monkeypatch, at: int):
    """The ``at``-th checkpoint write stops half-way, as a kill would (mmengine writes through
    ``LocalBackend.put``)."""
    put, calls = LocalBackend.put, []

    def dying_put(self, obj, filepath):
        calls.append(filepath)
        if len(calls) == at:
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
            raise KeyboardInterrupt('simulated kill')
        return put(self, obj, filepath)

    monkeypatch.setattr(LocalBackend, 'put', dying_put)


@pytest.mark.parametrize('hook', ['CheckpointHook', 'AtomicCheckpointHook'])
def test_a_kill_during_a_save_leaves_the_previous_checkpoint(hook, tmp_path, monkeypatch):
    """max_keep_ckpts=1: mmengine deletes iter_2.pth before writing iter_3.pth, so a kill mid-write leaves no
    loadable checkpoint; the atomic hook keeps iter_2.pth (and the pointer to it) until iter_3.pth is complete."""
    _kill_during_save(monkeypatch, at=3)
    with pytest.raises(KeyboardInterrupt):
        _runner(tmp_path, hook).train()
    latest, skipped = latest_loadable_checkpoint(str(tmp_path))
    if hook == 'CheckpointHook':  # the bug the atomic hook fixes
        assert latest is None and len(skipped) == 1 and 'iter_3.pth' in skipped[0]
        return
    good = str(tmp_path / 'iter_2.pth')
    assert latest == good and skipped == []
    assert not osp.exists(tmp_path / 'iter_3.pth')  # only the temporary file, never read
    assert osp.isfile(tmp_path / 'iter_3.pth.part')
    assert open(tmp_path / 'last_checkpoint').read() == good
    assert checkpoint_problem(good) is None


def test_resume_after_the_kill_matches_the_uninterrupted_run(tmp_path, monkeypatch):
    straight = _runner(tmp_path / 'a')
    straight.train()
    with monkeypatch.context() as m:
        _kill_during_save(m, at=3)
        with pytest.raises(KeyboardInterrupt):
            _runner(tmp_path / 'b').train()
    latest, _ = latest_loadable_checkpoint(str(tmp_path / 'b'))
    resumed = _runner(tmp_path / 'b', resume=True, load_from=latest)
    resumed.train()
    assert resumed.iter == 4
    for a, b in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)
    # max_keep_ckpts=1: the last checkpoint alone, the stale temporary file replaced, the pointer at iter_4
    assert [p for p in os.listdir(tmp_path / 'b') if '.pth' in p] == ['iter_4.pth']
    assert open(tmp_path / 'b' / 'last_checkpoint').read() == str(tmp_path / 'b' / 'iter_4.pth')


def test_resuming_a_finished_run_writes_final_pth_again(tmp_path):
    """What the suite does for a damaged final.pth: resume from the last iteration's checkpoint, no iteration
    left, and ExportStudentHook writes final.pth again (the same weights)."""
    hooks = [dict(type='ExportStudentHook')]
    _runner(tmp_path, custom_hooks=hooks).train()
    first = torch.load(tmp_path / 'final.pth', weights_only=True)['state_dict']
    _truncated(tmp_path / 'final.pth')
    resumed = _runner(tmp_path, custom_hooks=hooks, resume=True, load_from=str(tmp_path / 'iter_4.pth'))
    resumed.train()
    again = torch.load(tmp_path / 'final.pth', weights_only=True)['state_dict']
    assert resumed.iter == 4 and all(torch.equal(first[k], again[k]) for k in first)


def test_atomic_hook_keeps_what_mmengine_keeps(tmp_path):
    runner = _runner(tmp_path, max_keep=2)
    runner.train()
    assert sorted(p for p in os.listdir(tmp_path) if p.endswith('.pth')) == ['iter_3.pth', 'iter_4.pth']
    assert not glob.glob(str(tmp_path / '*.part'))
    ckpt = torch.load(tmp_path / 'iter_4.pth', weights_only=True)
    assert ckpt['meta']['iter'] == 4 and ckpt['message_hub']['runtime_info']['keep_ckpt_ids'] == [3, 4]


def test_an_interrupted_atomic_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = str(tmp_path / 'final.pth')
    atomic_save(dict(state_dict=dict(w=torch.ones(3))), path)
    save = torch.save

    def half_save(obj, f):
        save(dict(junk=torch.zeros(1000)), f)
        raise RuntimeError('interrupted')

    monkeypatch.setattr(torch, 'save', half_save)
    with pytest.raises(RuntimeError, match='interrupted'):
        atomic_save(dict(state_dict=dict(w=torch.zeros(3))), path)
    assert torch.equal(torch.load(path, weights_only=True)['state_dict']['w'], torch.ones(3))
    assert os.listdir(tmp_path) == ['final.pth']  # the temporary file is gone too


def test_a_full_disk_names_the_file_and_the_free_space(tmp_path, monkeypatch):
    path = str(tmp_path / 'final.pth')

    def full(obj, f):
        f.write(b'x' * 100)
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(torch, 'save', full)
    with pytest.raises(OSError) as info:
        atomic_save(dict(w=torch.ones(1)), path)
    assert info.value.errno == errno.ENOSPC
    assert f'no space left to write {path} (' in str(info.value) and 'MiB free on that disk' in str(info.value)
    assert '--resume' in str(info.value) and os.listdir(tmp_path) == []


def test_export_hook_writes_final_pth_atomically(tmp_path, monkeypatch):
    model = Toy()
    runner = SimpleNamespace(model=model, work_dir=str(tmp_path), cfg=Config(), iter=4, epoch=0,
                             experiment_name='x', logger=SimpleNamespace(info=lambda msg: None))
    ExportStudentHook().after_train(runner)
    first = torch.load(tmp_path / 'final.pth', weights_only=True)
    assert first['meta']['iter'] == 4 and set(first['state_dict']) == {'fc.weight', 'fc.bias'}

    def killed(obj, f):
        f.write(b'half')
        raise KeyboardInterrupt('simulated kill')

    monkeypatch.setattr(torch, 'save', killed)
    with pytest.raises(KeyboardInterrupt):
        ExportStudentHook().after_train(runner)
    assert checkpoint_problem(str(tmp_path / 'final.pth')) is None  # the previous export, intact


# ---------------------------------------------------------------------------------------------- run dirs
def _good(path, it=0):
    torch.save(dict(state_dict=dict(w=torch.full((4, ), float(it))), meta=dict(iter=it)), path)


def _truncated(path):
    _good(path, 99)
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 3])


def test_run_dir_trusts_only_checkpoints_that_load(tmp_path):
    wd = str(tmp_path)
    _good(tmp_path / 'iter_10.pth', 10)
    _truncated(tmp_path / 'iter_20.pth')  # the newest, cut off by a kill
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_20.pth'))
    state = inspect_checkpoints(wd, 20)
    assert state.resume == str(tmp_path / 'iter_10.pth') and state.resume_iter == 10
    assert state.trained is None
    assert len(state.untrusted) == 1 and 'iter_20.pth' in state.untrusted[0] and 'damaged' in state.untrusted[0]

    _good(tmp_path / 'iter_20.pth', 20)  # rewritten: now trusted (the cache follows the file's version)
    assert trained_checkpoint(wd, 20) == str(tmp_path / 'iter_20.pth')
    _truncated(tmp_path / 'final.pth')  # a damaged final.pth is not replaced by iter_20.pth: resume rewrites it
    state = inspect_checkpoints(wd, 20)
    assert state.trained is None and state.resume_iter == 20 and 'final.pth' in state.untrusted[0]
    _good(tmp_path / 'final.pth', 20)
    assert trained_checkpoint(wd, 20) == str(tmp_path / 'final.pth')


def test_a_finished_teacher_with_a_damaged_final_pth_is_not_done(tmp_path):
    teacher = RunSpec(ModelSpec('seg_teacher', 'x.py', 'teacher', 20, [0]), 0, str(tmp_path))
    method = RunSpec(ModelSpec('mtl', 'x.py', 'method', 20, [0]), 0, str(tmp_path))
    (tmp_path / 'metrics.json').write_text('{"mIoU": 50.0}')
    _good(tmp_path / 'iter_20.pth', 20)
    _truncated(tmp_path / 'final.pth')
    assert run_state(method) == 'done'  # its metrics are what a method is for
    assert run_state(teacher) == 'resume'  # the distillers read its final.pth: written again
    _good(tmp_path / 'final.pth', 20)
    assert run_state(teacher) == 'done'
    os.remove(tmp_path / 'final.pth')  # deleted: the last checkpoint is enough for a method, not for a teacher
    os.remove(tmp_path / 'metrics.json')
    assert run_state(method) == 'evaluate' and run_state(teacher) == 'resume'


MODEL_CFG = """
model = dict(type='JointStudent')
train_cfg = dict(type='IterBasedTrainLoop', max_iters=1000, val_interval=500)
default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook', interval=500))
_ds = dict(type='SynthDriveDataset', data_root='data/x', generate=dict(num_train=10, num_val=2))
train_dataloader = dict(batch_size=8, num_workers=0, dataset=dict(**_ds, pipeline=[]))
val_dataloader = dict(batch_size=1, num_workers=0, dataset=dict(**_ds, pipeline=[]))
test_dataloader = val_dataloader
"""


class FakeTools:
    """tools/train.py (writes iter_<max>.pth and final.pth) and tools/test.py (writes metrics.json)."""

    def __init__(self):
        self.calls = []

    def __call__(self, cmd, log_file, on_line):
        self.calls.append(cmd)
        if cmd[1].endswith('train.py'):
            wd = cmd[cmd.index('--work-dir') + 1]
            _good(osp.join(wd, 'iter_20.pth'), 20)
            _good(osp.join(wd, 'final.pth'), 20)
        else:
            with open(cmd[cmd.index('--metrics-out') + 1], 'w') as f:
                f.write('{"mIoU": 50.0}')
        return 0


@pytest.fixture
def suite(tmp_path):
    (tmp_path / 'mtl.py').write_text(MODEL_CFG)
    path = tmp_path / 'suite.py'
    path.write_text(f"""
out_dir = {str(tmp_path / 'out')!r}
methods = dict(mtl={str(tmp_path / 'mtl.py')!r})
seeds = [0]
max_iters = dict(teacher=20, student=20)
cost = dict(enabled=False)
""")
    return Suite.from_file(str(path))


def _run(suite):
    fake, lines = FakeTools(), []
    SuiteRunner(suite, fake, lines.append).run(prepare_data=False, costs=False)
    return fake.calls, '\n'.join(lines)


def test_suite_resumes_from_the_newest_checkpoint_that_loads(suite):
    run = suite.runs()[0]
    os.makedirs(run.work_dir)
    _good(osp.join(run.work_dir, 'iter_10.pth'), 10)
    _truncated(osp.join(run.work_dir, 'iter_20.pth'))
    with open(osp.join(run.work_dir, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(run.work_dir, 'iter_20.pth'))
    calls, log = _run(suite)
    assert f'resuming from iteration 10 ({osp.join(run.work_dir, "iter_10.pth")})' in log
    assert 'resuming from iteration 20' not in log
    assert f'checkpoint not trusted: {osp.join(run.work_dir, "iter_20.pth")}' in log
    assert '--resume' in calls[0] and calls[1][1].endswith('test.py')
    assert calls[1][3] == osp.join(run.work_dir, 'final.pth')


def test_suite_does_not_evaluate_a_truncated_final_pth(suite):
    """Before: final.pth existed, so the run was 'trained' and every rerun failed evaluating it."""
    run = suite.runs()[0]
    os.makedirs(run.work_dir)
    _good(osp.join(run.work_dir, 'iter_20.pth'), 20)
    _truncated(osp.join(run.work_dir, 'final.pth'))
    assert run_state(run) == 'resume'
    calls, log = _run(suite)
    assert 'resuming from iteration 20' in log and 'final.pth is written again' in log
    assert '--resume' in calls[0] and osp.isfile(run.metrics_path)


def test_suite_retrains_when_no_checkpoint_loads(suite):
    run = suite.runs()[0]
    os.makedirs(run.work_dir)
    _truncated(osp.join(run.work_dir, 'iter_10.pth'))
    assert run_state(run) == 'train'
    calls, log = _run(suite)
    assert 'no checkpoint that loads' in log and 'training from iteration 0' in log
    assert '--resume' not in calls[0]
