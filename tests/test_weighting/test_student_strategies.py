"""Every registered strategy trains the real SynthDrive student (configs/baselines/mtl_synthdrive.py)."""
import math

import pytest
from mmengine.runner import Runner

from jdbench.testing import tiny_config, tiny_synthdrive
from jdbench.weighting import registered_strategies


REQUIRED_ARGS = {'Fixed': dict(weights=dict(seg=1.0, depth=0.1))}


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return tiny_synthdrive(str(tmp_path_factory.mktemp('synthdrive')), num_train=4, num_val=2, size=(32, 64))


@pytest.mark.parametrize('name', registered_strategies())
def test_strategy_trains_the_student(name, data_root, tmp_path):
    weighting = dict(type=name, balance='tasks', **REQUIRED_ARGS.get(name, {}))
    cfg = tiny_config('configs/baselines/mtl_synthdrive.py', data_root, str(tmp_path), max_iters=2,
                      cfg_options={'model.weighting': weighting, 'train_cfg.val_interval': 100,
                                   'default_hooks.checkpoint.interval': 100})
    runner = Runner.from_cfg(cfg)
    before = {k: v.clone() for k, v in runner.model.backbone.state_dict().items()}
    runner.train()
    scalars = runner.message_hub.log_scalars
    weights = {k: scalars[f'train/w.{k}'].current() for k in ('seg', 'depth')}
    assert all(math.isfinite(w) for w in weights.values()), weights
    assert math.isfinite(scalars['train/loss'].current())
    changed = [k for k, v in runner.model.backbone.state_dict().items() if not v.equal(before[k])]
    assert changed, f'{name}: the shared backbone did not move'
