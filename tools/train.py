"""Train a jdbench model (student, teacher, distiller) with mmengine's Runner.

    python tools/train.py configs/baselines/mtl_synthdrive.py [--work-dir DIR] [--resume [CKPT]] [--amp]
                          [--cfg-options train_cfg.max_iters=200 randomness.seed=1] [--launcher pytorch]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout without installing

import torch  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import jdbench  # noqa: E402
from jdbench.utils.runner_utils import (DictAction, end_process_group, load_config, set_local_rank,  # noqa: E402
                                       use_amp)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a jdbench model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models (default work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', const='auto', default=None,
                        help='resume from CKPT, or from the latest checkpoint in the work dir when no path is given')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision (needs a CUDA GPU)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. train_cfg.max_iters=200 randomness.seed=1')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher (pytorch: torchrun; CPU processes use gloo)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    set_local_rank(args.local_rank)
    return args


def main() -> None:
    args = parse_args()
    jdbench.register_all_modules(init_default_scope=False)
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    if args.amp:
        if not torch.cuda.is_available():
            sys.exit('--amp needs a CUDA GPU (mmengine\'s AmpOptimWrapper does not run on CPU); drop --amp here.')
        use_amp(cfg)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    runner = Runner.from_cfg(cfg)
    runner.train()
    del runner  # a DDP model goes first, while its process group still exists
    end_process_group()


if __name__ == '__main__':
    main()
