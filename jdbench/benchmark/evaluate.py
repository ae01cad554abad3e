"""Evaluate one checkpoint with the config's test loop and metric (``tools/test.py CONFIG CHECKPOINT``)."""
import json
import os
import os.path as osp
from typing import Dict, Optional


def evaluate_checkpoint(config: str,
                        checkpoint: str,
                        work_dir: Optional[str] = None,
                        show_dir: Optional[str] = None,
                        metrics_out: Optional[str] = None,
                        cfg_options: Optional[dict] = None,
                        launcher: str = 'none') -> Dict[str, float]:
    """Test ``checkpoint`` (a full model, or a distiller's student-only ``final.pth``) on ``config``'s test set.

    The checkpoint is read before the Runner is built (a missing or damaged file fails fast) and loaded with
    :func:`jdbench.utils.load_weights`. ``show_dir`` saves prediction pictures; ``metrics_out`` writes the
    metrics as JSON. Raises FileNotFoundError / RuntimeError / ValueError with a message saying what to do.
    """
    from mmengine.model import is_model_wrapper
    from mmengine.runner import Runner

    import jdbench
    from jdbench.utils import load_state_dict_checked, load_weights
    from jdbench.utils.runner_utils import load_config
    jdbench.register_all_modules(init_default_scope=False)
    cfg = load_config(config, cfg_options, work_dir, launcher)
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
    metrics = {k: float(v) for k, v in runner.test().items()}
    if metrics_out:
        os.makedirs(osp.dirname(osp.abspath(metrics_out)), exist_ok=True)
        with open(metrics_out, 'w') as f:
            json.dump(metrics, f, indent=2)
        runner.logger.info(f'metrics written to {metrics_out}')
    return metrics
