"""Train a jdbench model (student, teacher, distiller) with mmengine's Runner.

    python tools/train.py configs/baselines/mtl_synthdrive.py [--work-dir DIR] [--resume [CKPT]] [--amp]
                          [--cfg-options train_cfg.max_iters=200 randomness.seed=1] [--launcher pytorch]

Distributed (DDP), on CPU processes too (gloo); ``train_dataloader.batch_size`` is per process::

    python -m torch.distributed.run --nproc_per_node=2 tools/train.py CONFIG --launcher pytorch

Bad input ends with one ``error:`` line that says what to do (exit code 2).
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout without installing

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.model import is_model_wrapper  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import jdbench  # noqa: E402
from jdbench.utils.checkpoint import (NO_SPACE, CheckpointError, check_state_dict_matches,  # noqa: E402
                                      latest_loadable_checkpoint, no_space_error, read_checkpoint)
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


def choose_resume(cfg: Config, resume: Optional[str]) -> List[str]:
    """Set ``cfg.resume`` / ``cfg.load_from`` for ``--resume [CKPT]``; return what to log about it.

    Without a path: the newest checkpoint of the work dir that loads (a damaged one, e.g. left by a kill
    during a save of an older jdbench, is named and skipped); with none, training starts from iteration 0, and
    the log says so.
    """
    if resume is None:
        return []
    if resume != 'auto':
        if not osp.isfile(resume):
            raise FileNotFoundError(f'--resume {resume}: no such checkpoint. Give an iter_<N>.pth of this '
                                    'run, or --resume alone to continue from the latest checkpoint in '
                                    f'{cfg.work_dir}.')
        cfg.resume, cfg.load_from = True, resume
        return []
    path, skipped = latest_loadable_checkpoint(cfg.work_dir)
    notes = [f'--resume: skipping a checkpoint that does not load: {problem}' for problem in skipped]
    if path is None:
        cfg.resume, cfg.load_from = False, None
        notes.append(f'--resume: no checkpoint{" that loads" if skipped else ""} in {cfg.work_dir}; training '
                     'starts from iteration 0.')
    else:
        cfg.resume, cfg.load_from = True, path
        notes.append(f'--resume: continuing from {path}')
    return notes


def check_resume_matches(runner: Runner, path: str, config: str) -> None:
    """Refuse, naming config and checkpoint, a ``--resume`` checkpoint of another model (mmengine would
    load what fits, then fail on the optimizer's parameter groups) or one without training state."""
    ckpt = read_checkpoint(path)
    if not isinstance(ckpt, dict) or 'optimizer' not in ckpt or 'state_dict' not in ckpt:
        raise ValueError(f'--resume {path}: this file holds weights only, not a training state (an '
                         'iter_<N>.pth of tools/train.py). To start a new training from these weights, use '
                         f'--cfg-options load_from={path} without --resume.')
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    state_dict = ckpt['state_dict']
    if state_dict and all(k.startswith('module.') for k in state_dict):
        state_dict = {k[len('module.'):]: v for k, v in state_dict.items()}
    check_state_dict_matches(
        model, state_dict, f'--resume {path}',
        f'It was trained with another config than {config}: resume with the config it was trained with (its '
        f'copy is in the checkpoint\'s folder), or train {config} in a new --work-dir without --resume.')


def prepare(args: argparse.Namespace) -> Runner:
    """The Runner of ``args``, with the config, the resume checkpoint and ``--amp`` checked."""
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    if args.amp:
        if not torch.cuda.is_available():
            raise ValueError('--amp needs a CUDA GPU (mmengine\'s AmpOptimWrapper does not run on CPU); drop '
                             '--amp here.')
        use_amp(cfg)
    notes = choose_resume(cfg, args.resume)
    runner = Runner.from_cfg(cfg)
    for note in notes:
        runner.logger.info(note)
    if cfg.resume and cfg.load_from:
        check_resume_matches(runner, cfg.load_from, args.config)
    return runner


def fail(message: object) -> int:
    print(f'error: {message}', file=sys.stderr)
    return 2


def main() -> int:
    args = parse_args()
    jdbench.register_all_modules(init_default_scope=False)
    try:
        runner = prepare(args)
    except (FileNotFoundError, ValueError, CheckpointError) as err:  # bad input: one clear line
        return fail(err)
    cfg = runner.cfg
    try:
        runner.train()
    except CheckpointError as err:  # load_from: damaged, or objects outside the allow-list
        return fail(err)
    except ValueError as err:
        if not (cfg.get('resume') and 'parameter group' in str(err)):
            raise
        return fail(f'--resume {cfg.load_from} does not fit the optimizer of {args.config} ({err}). It was '
                    'trained with other optimizer settings: resume with the config it was trained with, or '
                    f'train {args.config} in a new --work-dir without --resume.')
    except OSError as err:
        if err.errno not in NO_SPACE:
            raise
        if 'no space left to write' not in str(err):
            err = no_space_error(err.filename or cfg.work_dir, err)
        return fail(err)
    del runner  # a DDP model goes first, while its process group still exists
    end_process_group()
    return 0


if __name__ == '__main__':
    sys.exit(main())
