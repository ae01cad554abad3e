"""Evaluate one checkpoint with the config's test loop and metric (``tools/test.py CONFIG CHECKPOINT``), or with
another loader of the config (a suite's ``extra_evaluations``: e.g. the source domain's val split)."""
import json
import os
import os.path as osp
from typing import Dict, Optional


def use_loader(cfg, dataloader: str, evaluator: Optional[str] = None) -> None:
    """Make ``cfg[dataloader]`` (and ``cfg[evaluator]``, default ``test_evaluator``) the test loader and metric.

    Raises:
        ValueError: when the config has no such loader or evaluator (the message lists the ones it has).
    """
    loaders = sorted(k for k in cfg.keys() if k.endswith('dataloader'))
    if not isinstance(cfg.get(dataloader), dict):
        raise ValueError(f'the config has no {dataloader!r} to evaluate on; its loaders: {loaders}. A suite\'s '
                       'extra_evaluations name a loader every config of the suite defines (e.g. '
                       'source_val_dataloader of configs/_base_/datasets/synthdrive_day2fog.py)')
    evaluator = evaluator or 'test_evaluator'
    if cfg.get(evaluator) is None:
        evaluators = sorted(k for k in cfg.keys() if k.endswith('evaluator'))
        raise ValueError(f'the config has no {evaluator!r}; its evaluators: {evaluators}')
    cfg.test_dataloader = cfg[dataloader]
    cfg.test_evaluator = cfg[evaluator]


def evaluate_checkpoint(config: str,
                        checkpoint: str,
                        work_dir: Optional[str] = None,
                        show_dir: Optional[str] = None,
                        metrics_out: Optional[str] = None,
                        cfg_options: Optional[dict] = None,
                        launcher: str = 'none',
                        dataloader: Optional[str] = None,
                        evaluator: Optional[str] = None,
                        prefix: str = '') -> Dict[str, float]:
    """Test ``checkpoint`` (a full model, or a distiller's student-only ``final.pth``) on ``config``'s test set.

    The checkpoint is read before the Runner is built (a missing or damaged file fails fast) and loaded with
    :func:`jdbench.utils.load_weights`. ``show_dir`` saves prediction pictures; ``metrics_out`` writes the
    metrics as JSON. ``dataloader``/``evaluator``: evaluate on another loader of the config with its metric
    (:func:`use_loader`; e.g. ``'source_val_dataloader'``, ``'source_val_evaluator'``); ``prefix`` is put
    before every metric name (``'source_'``: ``source_mIoU``). Raises FileNotFoundError / RuntimeError /
    ValueError with a message saying what to do.
    """
    from mmengine.model import is_model_wrapper
    from mmengine.runner import Runner

    import jdbench
    from jdbench.utils import load_state_dict_checked, load_weights
    from jdbench.utils.runner_utils import load_config
    jdbench.register_all_modules(init_default_scope=False)
    cfg = load_config(config, cfg_options, work_dir, launcher)
    if dataloader:
        use_loader(cfg, dataloader, evaluator)
    state_dict = load_state_dict_checked(checkpoint)
    if show_dir:
        vis = cfg.default_hooks.setdefault('visualization', dict(type='SegVisualizationHook'))
        vis.update(draw=True, interval=1)
        cfg.visualizer.save_dir = show_dir
    cfg.load_from = None
    runner = Runner.from_cfg(cfg)
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    if load_weights(model, checkpoint, state_dict) == 'student':
        runner.logger.info(f'student-only checkpoint {checkpoint} loaded into the distiller\'s student')
    metrics = {f'{prefix}{k}': float(v) for k, v in runner.test().items()}
    if metrics_out:
        os.makedirs(osp.dirname(osp.abspath(metrics_out)), exist_ok=True)
        with open(metrics_out, 'w') as f:
            json.dump(metrics, f, indent=2)
        runner.logger.info(f'metrics written to {metrics_out}')
    return metrics
