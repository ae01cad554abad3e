"""tools' load_config: a shorter run carries its LR schedule along, explicit milestones are kept as given."""
from jdbench.utils.runner_utils import load_config

CONFIG = 'configs/baselines/mtl_synthdrive.py'


def test_max_iters_override_rescales_the_schedule():
    cfg = load_config(CONFIG, {'train_cfg.max_iters': 400})
    assert [(s['begin'], s['end']) for s in cfg.param_scheduler] == [(0, 20), (20, 400)]


def test_explicit_scheduler_options_are_not_rescaled_again():
    cfg = load_config(CONFIG, {'train_cfg.max_iters': 400, 'param_scheduler.0.end': 20,
                               'param_scheduler.1.begin': 20, 'param_scheduler.1.end': 400})
    assert [(s['begin'], s['end']) for s in cfg.param_scheduler] == [(0, 20), (20, 400)]
