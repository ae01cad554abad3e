"""Helpers shared by the command-line tools: config loading with clear errors, CPU-friendly launch settings."""
import difflib
import inspect
import logging
import os
import os.path as osp
from typing import Dict, List, Mapping, Optional

import torch
from mmengine.config import Config, DictAction  # noqa: F401  (DictAction re-exported for the tools)
from mmengine.logging import print_log

# Options that no longer exist, with what replaced them.
REMOVED_OPTIONS = {
    'model.teacher_work_dir': (
        'no longer exists: each teacher names its own checkpoint. Point a distiller at teachers trained '
        'in DIR with model.teachers.<task>.checkpoint=DIR/<teacher config name>/final.pth (and, for '
        'JointDistill, model.trajectory.files.<task>=DIR/<teacher config name>/trajectory.pth); a suite sets '
        'them itself from its teacher_work_dir.'),
}

# Top-level keys that mmengine's Runner.from_cfg reads besides its constructor's arguments.
RUNNER_KEYS = ('model_wrapper_cfg', 'compile', 'strategy', 'cfg', 'launcher', 'work_dir')


def check_removed_options(cfg_options: Mapping) -> None:
    """Raise a ValueError that says what replaced an option of :data:`REMOVED_OPTIONS`."""
    for key in cfg_options:
        for removed, message in REMOVED_OPTIONS.items():
            if key == removed or key.startswith(removed + '.'):
                raise ValueError(f'--cfg-options {key}: {removed} {message}')


def unknown_option_warnings(cfg: Config, cfg_options: Mapping) -> List[str]:
    """A warning for each ``--cfg-options`` key whose top-level name neither the config nor mmengine's Runner
    knows (a typo would otherwise be ignored), naming the closest known names."""
    from mmengine.runner import Runner
    known = set(cfg.keys()) | set(inspect.signature(Runner.__init__).parameters) | set(RUNNER_KEYS)
    known.discard('self')
    out = []
    for key in cfg_options:
        top = key.split('.', 1)[0]
        if top in known:
            continue
        close = difflib.get_close_matches(top, sorted(known), n=3, cutoff=0.6)
        hint = f'did you mean {" or ".join(repr(c) for c in close)}?' if close else \
            'it is not a setting of this config or of mmengine\'s Runner.'
        out.append(f'--cfg-options {key}: {cfg.filename or "the config"} has no top-level {top!r} and '
                   f'nothing reads it; {hint}')
    return out


def load_config(path: str, cfg_options: Optional[dict] = None, work_dir: Optional[str] = None,
                launcher: str = 'none') -> Config:
    """Load a config, apply ``--cfg-options`` and pick the work dir (``work_dirs/<config name>`` by default).

    An empty config (or one without ``model``), and a removed option, raise a ValueError that says what to do;
    an option with an unknown top-level name is merged but logged as a warning that names the close matches.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file {path!r} not found; configs live under configs/ '
                                '(e.g. configs/baselines/mtl_synthdrive.py)')
    cfg = Config.fromfile(path)
    if not cfg.get('model'):
        keys = ', '.join(sorted(cfg.keys())[:8])
        what = f'defines no model (it has {keys})' if keys else 'is empty'
        raise ValueError(f'config {path} {what}. A jdbench config defines model, data and schedule, usually '
                         'by inheriting them: start from one under configs/ (e.g. '
                         'configs/baselines/mtl_synthdrive.py) or write _base_ = [...] as those do.')
    planned_iters = cfg.get('train_cfg', {}).get('max_iters')
    if cfg_options:
        check_removed_options(cfg_options)
        for message in unknown_option_warnings(cfg, cfg_options):
            print_log(message, logger='current', level=logging.WARNING)
        cfg.merge_from_dict(cfg_options)
        if not any(k.startswith('param_scheduler') for k in cfg_options):  # explicit milestones win
            fit_schedule_to_max_iters(cfg, planned_iters)
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


AMP_WRAPPERS = {'WeightedOptimWrapper': 'AmpWeightedOptimWrapper', 'OptimWrapper': 'AmpOptimWrapper'}


def use_amp(cfg: Config) -> None:
    """``--amp``: every optim wrapper of ``cfg`` becomes its AMP twin with a dynamic loss scale (each entry of
    a ``MultiOptimWrapperConstructor`` config too)."""
    wrapper = cfg.optim_wrapper
    entries = [wrapper] if 'optimizer' in wrapper else [w for w in wrapper.values() if isinstance(w, dict)]
    for entry in entries:
        kind = entry.get('type', 'OptimWrapper')
        entry['type'] = AMP_WRAPPERS.get(kind, kind)
        entry.setdefault('loss_scale', 'dynamic')


def init_cpu_process_group(launcher: str) -> None:
    """Start the gloo process group of a CPU-only ``--launcher pytorch`` job.

    mmengine 0.10's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` unconditionally, which fails
    without a GPU; the Runner skips ``init_dist`` when a process group already exists, so jdbench starts it.
    """
    import torch.distributed as dist
    if launcher == 'pytorch' and dist.is_available() and not dist.is_initialized():
        dist.init_process_group(backend='gloo')


def end_process_group() -> None:
    """Close a distributed run's process group, after a barrier, once its models are gone (no-op otherwise).

    Left to interpreter exit, a DDP reducer freed after the group can take the group's last reference; gloo's
    destructor then joins worker threads that wait for the GIL it holds, and the process never exits.
    """
    import gc

    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        gc.collect()
        dist.destroy_process_group()


def scaled_schedule_options(cfg: Config, new_iters: int, planned_iters: Optional[int] = None) -> Dict[str, int]:
    """``--cfg-options`` that fit the iteration-based LR schedulers of ``cfg`` to a run of ``new_iters``.

    A config's schedule is written for ``planned_iters`` (default: its own ``train_cfg.max_iters``); every
    integer ``begin``/``end`` (warm-up included) is scaled by ``new_iters / planned_iters``, so a shorter run
    keeps the shape of the schedule. Returns e.g. ``{'param_scheduler.1.end': 400}`` (the milestones as they
    are when the lengths agree); empty without iteration-based schedulers.
    """
    planned = planned_iters or cfg.get('train_cfg', {}).get('max_iters')
    scheds = cfg.get('param_scheduler')
    if not planned or not new_iters or not scheds:
        return {}
    items = [(f'param_scheduler.{i}', s) for i, s in enumerate(scheds)] if isinstance(scheds, (list, tuple)) \
        else [('param_scheduler', scheds)]
    out: Dict[str, int] = {}
    for prefix, sched in items:
        if sched.get('by_epoch', True):
            continue
        scaled = {
            key: max(1, min(round(sched[key] * new_iters / planned), new_iters))
            for key in ('begin', 'end') if isinstance(sched.get(key), int) and 0 < sched[key] < 10**9
        }
        begin = scaled.get('begin', sched.get('begin'))
        if 'end' in scaled and isinstance(begin, int):
            scaled['end'] = max(scaled['end'], begin + 1)  # a short run still gets a valid scheduler
        out.update({f'{prefix}.{key}': value for key, value in scaled.items()})
    return out


def fit_schedule_to_max_iters(cfg: Config, planned_iters: Optional[int]) -> None:
    """Rescale the LR schedule in place after ``train_cfg.max_iters`` was overridden (see
    :func:`scaled_schedule_options`)."""
    new_iters = cfg.get('train_cfg', {}).get('max_iters')
    if planned_iters:
        cfg.merge_from_dict(scaled_schedule_options(cfg, new_iters, planned_iters))


def set_local_rank(local_rank: int) -> None:
    """torch.distributed.launch passes --local_rank; mmengine reads LOCAL_RANK."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(local_rank)

