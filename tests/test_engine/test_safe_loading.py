"""Nothing executed: a checkpoint whose pickle carries code is refused on every load path of jdbench, also with
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` (torch's switch back to unsafe loading, the default before torch 2.6)."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class Payload:
    """Unpickling it runs ``exec``: it writes ``marker``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f'open({self.marker!r}, "w").write("pwned")', )


def _evil(tmp_path) -> tuple:
    marker = str(tmp_path / 'PWNED')
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict=dict(w=torch.ones(1)), meta=dict(iter=2), optimizer=dict(),
                    message_hub=Payload(marker)), path)
    return path, marker


# Every load path, each in its own try: prints {path: outcome} as JSON. Run in a fresh process.
PATHS = r'''
import json, sys, torch
import jdbench
jdbench.register_all_modules(init_default_scope=True)
from mmengine.model import BaseModel
from mmengine.runner import Runner
evil, out = sys.argv[1], {}

class Toy(BaseModel):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(1))
    def forward(self, inputs=None, data_samples=None, mode='tensor'):
        return self.w

def attempt(name, fn):
    try:
        fn()
        out[name] = 'loaded'
    except Exception as err:
        out[name] = f'{type(err).__name__}: {err}'

def runner(resume):
    r = Runner(model=Toy(), work_dir=sys.argv[2] + ('/resume' if resume else '/load'), load_from=evil,
               resume=resume, default_scope='jdbench', log_level='ERROR')
    r.load_or_resume()

from jdbench.utils import load_weights
from jdbench.utils.checkpoint import checkpoint_problem, load_from_http
from jdbench.models.teachers import Teacher
from jdbench.models.trajectory.trajectory_file import load_trajectory
attempt('runner_resume', lambda: runner(True))
attempt('runner_load_from', lambda: runner(False))
attempt('test_tool_load_weights', lambda: load_weights(Toy(), evil))
attempt('teacher', lambda: Teacher('configs/teachers/seg_synthdrive.py', evil))
attempt('trajectory', lambda: load_trajectory(evil))
attempt('url', lambda: load_from_http('file://' + evil, model_dir=sys.argv[2] + '/hub'))
problem = checkpoint_problem(evil)
out['suite_check'] = problem or 'loaded'
print('RESULT ' + json.dumps(out))
'''


def _run(args, env_extra, cwd=REPO):
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1', **env_extra)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


@pytest.mark.parametrize('force_unsafe', [False, True], ids=['default', 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'])
def test_a_malicious_checkpoint_is_refused_on_every_load_path(tmp_path, force_unsafe):
    evil, marker = _evil(tmp_path)
    env = {'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD': '1'} if force_unsafe else {}
    proc = _run(['-c', PATHS, evil, str(tmp_path)], env)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith('RESULT ')), None)
    assert line, proc.stdout[-2000:] + proc.stderr[-3000:]
    results = json.loads(line[len('RESULT '):])
    assert set(results) == {'runner_resume', 'runner_load_from', 'test_tool_load_weights', 'teacher', 'trajectory',
                            'url', 'suite_check'}
    for path, outcome in results.items():
        assert 'loaded' != outcome and 'exec' in outcome, f'{path}: {outcome}'  # refused: "builtins.exec"
    assert not osp.exists(marker), 'the payload ran'


def test_the_tools_refuse_it_under_the_variable(tmp_path):
    """tools/train.py --resume and tools/test.py, end to end, with unsafe loading forced in the environment."""
    evil, marker = _evil(tmp_path)
    env = {'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD': '1'}
    train = _run(['tools/train.py', 'configs/baselines/mtl_synthdrive.py', '--work-dir', str(tmp_path / 'w'),
                  '--resume', evil], env)
    assert train.returncode == 2, train.stderr[-3000:]
    assert 'holds objects that jdbench does not load' in train.stderr and 'exec' in train.stderr
    test = _run(['tools/test.py', 'configs/baselines/mtl_synthdrive.py', evil, '--work-dir', str(tmp_path / 't')],
                env)
    assert test.returncode == 2 and 'holds objects that jdbench does not load' in test.stderr, test.stderr[-3000:]
    assert not osp.exists(marker)


def test_the_payload_is_live(tmp_path):
    """The control: torch's own default under the variable runs it (so the tests above can fail)."""
    evil, marker = _evil(tmp_path)
    code = f'import torch; torch.load({evil!r})'
    proc = _run(['-c', code], {'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD': '1'}, cwd=str(tmp_path))
    assert osp.exists(marker), proc.stderr[-2000:]


def test_remote_schemes_go_through_the_safe_loader():
    import mmengine.runner.checkpoint as mm

    import jdbench  # noqa: F401
    from jdbench.utils.checkpoint import load_from_http, load_from_local
    assert mm.CheckpointLoader._get_checkpoint_loader('https://x/y.pth') is load_from_http
    assert mm.CheckpointLoader._get_checkpoint_loader('work_dirs/x/iter_2.pth') is load_from_local
    assert mm.load_from_http is load_from_http  # torchvision://, open-mmlab://, mmcls:// call it by name


def test_a_torch_without_the_allow_list_form_is_named(tmp_path, monkeypatch):
    from jdbench.utils import read_checkpoint
    path = tmp_path / 'ok.pth'
    torch.save(dict(state_dict=dict(w=torch.ones(1))), path)
    monkeypatch.setattr(torch, '__version__', '2.1.2+cu121')
    with pytest.raises(RuntimeError, match=r'torch 2.1.2\+cu121 is too old for jdbench: it needs torch >= 2.6 '
                       r'\(jdbench loads every checkpoint with torch.load\(weights_only=True\)'):
        read_checkpoint(str(path))
