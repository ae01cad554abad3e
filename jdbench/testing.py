"""Helpers for tests and smoke runs: tiny rendered SynthDrive data and real configs shrunk to it."""
import os.path as osp
from typing import Callable, Dict, Mapping, Optional, Tuple

from mmengine.config import Config


def tiny_synthdrive(root: str, num_train: int = 8, num_val: int = 4, size: Tuple[int, int] = (32, 64),
                    seed: int = 0) -> str:
    """Render a small SynthDrive into ``root`` (once) and return ``root``."""
    from jdbench.datasets.synthdrive import generate_synthdrive
    if not osp.isfile(osp.join(root, 'synthdrive_meta.json')):
        generate_synthdrive(root, num_train=num_train, num_val=num_val, size=size, seed=seed)
    return root


def tiny_config(config: str, data_root: str, work_dir: str, size: Tuple[int, int] = (32, 64),
                max_iters: int = 4, batch_size: int = 2, cfg_options: Optional[Mapping] = None) -> Config:
    """``config`` pointed at the tiny data in ``data_root``, trained for ``max_iters`` with no workers.

    The LR schedule is rescaled to ``max_iters`` as ``tools/train.py`` does; ``cfg_options`` (dotted keys)
    are merged last.
    """
    from jdbench.benchmark.config_utils import data_cfg_options
    from jdbench.utils.runner_utils import fit_schedule_to_max_iters
    cfg = Config.fromfile(config)
    planned = cfg.train_cfg.max_iters
    opts = data_cfg_options(cfg, dict(data_root=data_root, size=size, num_workers=0, batch_size=batch_size))
    opts.update({'train_cfg.max_iters': max_iters, 'train_cfg.val_interval': max_iters,
                 'default_hooks.logger.interval': 1, 'default_hooks.checkpoint.interval': 2})
    cfg.merge_from_dict(opts)
    fit_schedule_to_max_iters(cfg, planned)
    if cfg_options:
        cfg.merge_from_dict(dict(cfg_options))
    cfg.work_dir = work_dir
    return cfg


def random_teachers(root: str, configs: Mapping[str, str] = None) -> Dict[str, str]:
    """Save random-weight teacher checkpoints (``{root}/<config name>/final.pth``) and return the
    ``--cfg-options`` that point a distiller at them (``model.teachers.<task>.checkpoint``).

    For tests and timings of the mechanics, where trained teachers are not needed; ``configs`` maps a task to
    a teacher config (default: the SynthDrive seg and depth teachers).
    """
    import os

    import torch

    from jdbench.registry import MODELS
    configs = configs or dict(seg='configs/teachers/seg_synthdrive.py',
                              depth='configs/teachers/depth_synthdrive.py')
    options = {}
    for task, config in configs.items():
        dst = osp.join(root, osp.splitext(osp.basename(config))[0])
        os.makedirs(dst, exist_ok=True)
        model = MODELS.build(Config.fromfile(config).model)
        torch.save(dict(state_dict=model.state_dict()), osp.join(dst, 'final.pth'))
        options[f'model.teachers.{task}.checkpoint'] = osp.join(dst, 'final.pth')
    return options


def run_processes(fn: Callable, nprocs: int, args: tuple = (), timeout: float = 300.0,
                  start_method: str = 'fork') -> None:
    """Run ``fn(rank, *args)`` on ``nprocs`` processes and wait at most ``timeout`` seconds.

    A run that outlives ``timeout`` is killed and raises, so a stuck process group never stalls a test session.
    ``fork`` (the default) keeps the children's start-up to milliseconds.
    """
    import time

    import torch.multiprocessing as mp
    ctx = mp.start_processes(fn, args=args, nprocs=nprocs, join=False, start_method=start_method)
    deadline = time.monotonic() + timeout
    while not ctx.join(timeout=1):
        if time.monotonic() > deadline:
            for proc in ctx.processes:
                proc.kill()
            raise TimeoutError(f'{nprocs} processes of {getattr(fn, "__name__", fn)} did not finish in {timeout} s')
