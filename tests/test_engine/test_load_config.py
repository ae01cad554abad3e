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


def test_suite_schedule_options_reach_train_unchanged():
    """The suite's options are what tools/train.py runs: scaled once, or (scale_schedule=False) the config's
    own milestones, which an overridden max_iters must not rescale."""
    from mmengine.config import Config

    from jdbench.benchmark.config_utils import schedule_cfg_options
    own = Config.fromfile(CONFIG)
    assert own.train_cfg.max_iters == 2000
    scaled = schedule_cfg_options(own, 400)
    assert [(s['begin'], s['end']) for s in load_config(CONFIG, scaled).param_scheduler] == [(0, 20), (20, 400)]
    kept = schedule_cfg_options(own, 400, scale_schedule=False)
    cfg = load_config(CONFIG, kept)
    assert cfg.train_cfg.max_iters == 400
    assert [(s['begin'], s['end']) for s in cfg.param_scheduler] == [(0, 100), (100, 2000)]
    assert schedule_cfg_options(Config(dict(model=dict())), 400, scale_schedule=False) == {
        'train_cfg.max_iters': 400}  # a config without train_cfg / schedulers: nothing to keep or scale
