"""Evaluate a checkpoint with the standard jdbench metric.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--show-dir DIR] [--metrics-out FILE.json]
                         [--cfg-options ...] [--launcher pytorch]
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.runner import Runner  # noqa: E402

import jdbench  # noqa: E402
from jdbench.utils import check_state_dict_matches, load_state_dict_checked  # noqa: E402
from jdbench.utils.runner_utils import DictAction, load_config, set_local_rank  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Evaluate a jdbench checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where logs and results go (default work_dirs/<config name>)')
    parser.add_argument('--show-dir', help='save prediction pictures into this folder (under the work dir)')
    parser.add_argument('--metrics-out', help='write the metrics as JSON to this file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    set_local_rank(args.local_rank)
    return args


def main() -> None:
    args = parse_args()
    jdbench.register_all_modules(init_default_scope=False)
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    state_dict = load_state_dict_checked(args.checkpoint)
    cfg.load_from = args.checkpoint
    if args.show_dir:
        vis = cfg.default_hooks.setdefault('visualization', dict(type='SegVisualizationHook'))
        vis.update(draw=True, interval=1)
        cfg.visualizer.save_dir = args.show_dir
    runner = Runner.from_cfg(cfg)
    check_state_dict_matches(runner.model, state_dict, args.checkpoint)
    metrics = runner.test()
    if args.metrics_out:
        os.makedirs(osp.dirname(osp.abspath(args.metrics_out)), exist_ok=True)
        with open(args.metrics_out, 'w') as f:
            json.dump({k: float(v) for k, v in metrics.items()}, f, indent=2)
        runner.logger.info(f'metrics written to {args.metrics_out}')


if __name__ == '__main__':
    main()
