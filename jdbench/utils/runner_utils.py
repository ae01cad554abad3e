"""Helpers shared by the command-line tools: config loading with clear errors, CPU-friendly launch settings."""
import os
import os.path as osp
from typing import List, Optional

import torch
from mmengine.config import Config, DictAction  # noqa: F401  (DictAction re-exported for the tools)


def load_config(path: str, cfg_options: Optional[dict] = None, work_dir: Optional[str] = None,
                launcher: str = 'none') -> Config:
    """Load a config, apply ``--cfg-options`` and pick the work dir (``work_dirs/<config name>`` by default)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file {path!r} not found; configs live under configs/ '
                                '(e.g. configs/baselines/mtl_synthdrive.py)')
    cfg = Config.fromfile(path)
    planned_iters = cfg.get('train_cfg', {}).get('max_iters')
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
        if not any(k.startswith('param_scheduler') for k in cfg_options):  # explicit milestones win
            fit_schedule_to_max_iters(cfg, planned_iters)
        from jdbench.models.distillers import sync_teacher_work_dir
        sync_teacher_work_dir(cfg)  # a top-level `teacher_work_dir=DIR` option reaches the model
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    if launcher != 'none' and not torch.cuda.is_available():
        # NCCL needs GPUs; CPU processes synchronise over gloo.
        cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
        init_cpu_process_group(launcher)
    return cfg


def init_cpu_process_group(launcher: str) -> None:
    """Start the gloo process group of a CPU-only ``--launcher pytorch`` job.

    mmengine 0.10's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` unconditionally, which fails
    without a GPU; the Runner skips ``init_dist`` when a process group already exists, so jdbench starts it.
    """
    import torch.distributed as dist
    if launcher == 'pytorch' and dist.is_available() and not dist.is_initialized():
        dist.init_process_group(backend='gloo')


def fit_schedule_to_max_iters(cfg: Config, planned_iters: Optional[int]) -> None:
    """Rescale iteration-based LR-scheduler milestones when ``train_cfg.max_iters`` was overridden.

    A config's schedule is written for its own ``max_iters``; ``--cfg-options train_cfg.max_iters=N`` then
    scales every ``begin``/``end`` (warm-up included) by ``N / max_iters`` so the schedule still fits the run.
    """
    new_iters = cfg.get('train_cfg', {}).get('max_iters')
    if not planned_iters or not new_iters or new_iters == planned_iters:
        return
    ratio = new_iters / planned_iters
    schedulers = cfg.get('param_scheduler') or []
    for sched in schedulers if isinstance(schedulers, list) else [schedulers]:
        if sched.get('by_epoch', True):
            continue
        for key in ('begin', 'end'):
            if isinstance(sched.get(key), int):
                sched[key] = min(int(round(sched[key] * ratio)), new_iters)
        if isinstance(sched.get('begin'), int) and isinstance(sched.get('end'), int):
            sched['end'] = max(sched['end'], sched['begin'] + 1)  # a short run still gets a valid scheduler


def set_local_rank(local_rank: int) -> None:
    """torch.distributed.launch passes --local_rank; mmengine reads LOCAL_RANK."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(local_rank)


def registered_names(registry) -> List[str]:
    """Names registered in a registry and its parents (for error messages)."""
    names, reg = set(), registry
    while reg is not None:
        names.update(reg.module_dict)
        reg = reg.parent
    return sorted(names)
