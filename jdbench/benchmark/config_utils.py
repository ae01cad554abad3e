"""Config helpers of the benchmark tools: ``--cfg-options``, data/schedule/teacher overrides, building models."""
import os.path as osp
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

import torch.nn as nn
from mmengine.config import Config

from jdbench.utils.runner_utils import scaled_schedule_options

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: Pipeline steps whose ``scale`` is (W, H) and ``crop_size`` is (H, W).
SCALE_STEPS = ('Resize', 'RandomResize', 'RandomResizeDepth', 'RandomChoiceResize')
CROP_STEPS = ('RandomCrop', )
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


# ----------------------------------------------------------------------------------------- --cfg-options
def flatten_options(options: Optional[Mapping], prefix: str = '') -> Dict[str, Any]:
    """Nested dicts -> dotted keys (``dict(a=dict(b=1))`` -> ``{'a.b': 1}``); dotted keys are kept."""
    out: Dict[str, Any] = {}
    for key, value in (options or {}).items():
        full = f'{prefix}{key}'
        if isinstance(value, Mapping) and value:
            out.update(flatten_options(value, f'{full}.'))
        else:
            out[full] = value
    return out


def format_option_value(value: Any) -> str:
    """A value as mmengine's ``DictAction`` parses it back (tuples ``(a,b)``, lists ``[a,b]``, no spaces)."""
    if isinstance(value, (list, tuple)):
        inner = ','.join(format_option_value(v) for v in value)
        if isinstance(value, list):
            return f'[{inner}]'
        return f'({inner},)' if len(value) == 1 else f'({inner})'
    return str(value)


def to_cli_options(options: Optional[Mapping]) -> List[str]:
    """``{'a.b': 1, 'c': (2, 3)}`` -> ``['a.b=1', 'c=(2,3)']`` for ``--cfg-options``."""
    return [f'{k}={format_option_value(v)}' for k, v in flatten_options(options).items()]


def _has(cfg: Config, dotted: str) -> bool:
    node: Any = getattr(cfg, '_cfg_dict', cfg)  # a Config is not a Mapping; its dict is
    for part in dotted.split('.'):
        if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return False
    return True


def _walk(node: Any, path: str = '') -> Iterator[Tuple[str, Any]]:
    """Every dict and list in a config tree with its dotted path (list items by index)."""
    yield path, node
    if isinstance(node, Mapping):
        items = node.items()
    else:
        items = enumerate(node) if isinstance(node, (list, tuple)) else ()
    for key, value in items:
        if isinstance(value, (Mapping, list, tuple)):
            yield from _walk(value, f'{path}.{key}' if path else str(key))


def data_cfg_options(cfg: Config, data: Optional[Mapping]) -> Dict[str, Any]:
    """Overrides that point every dataset of a config at smaller data (only keys the config has are emitted).

    Every dict with a ``data_root`` (loaders' datasets, but also datasets inside the model or hooks, e.g.
    JointDistill's trajectory probe) gets ``data_root``; every SynthDrive ``generate`` dict gets
    ``num_train``, ``num_val``, ``size`` (H, W), ``seed``, ``style``; every ``pipeline`` gets the resize
    ``scale`` (W, H) and ``crop_size`` (H, W) of ``size``; the loaders get ``batch_size`` (training) and
    ``num_workers`` (0 turns ``persistent_workers`` off). Top-level variables (``data_root``,
    ``train_pipeline``...) are left alone: the dicts that used them were resolved when the file was read.
    """
    data = dict(data or {})
    out: Dict[str, Any] = {}
    size = tuple(data['size']) if data.get('size') else None
    root = getattr(cfg, '_cfg_dict', cfg)
    for key in root:
        if key.startswith('_') or not isinstance(root[key],
                                                 (Mapping, list, tuple)) or key.endswith('pipeline'):
            continue
        for path, node in _walk(root[key], key):
            if not isinstance(node, Mapping):
                continue
            if 'data_root' in data and isinstance(node.get('data_root'), str):
                out[f'{path}.data_root'] = data['data_root']
            if isinstance(node.get('generate'), Mapping):
                for k in ('num_train', 'num_val', 'size', 'seed', 'style'):
                    if k in data:
                        out[f'{path}.generate.{k}'] = tuple(data[k]) if k == 'size' else data[k]
            if size is not None and isinstance(node.get('pipeline'), (list, tuple)):
                for i, step in enumerate(node['pipeline']):
                    if not isinstance(step, Mapping):
                        continue
                    if step.get('type') in SCALE_STEPS and 'scale' in step:
                        out[f'{path}.pipeline.{i}.scale'] = (size[1], size[0])
                    if step.get('type') in CROP_STEPS and 'crop_size' in step:
                        out[f'{path}.pipeline.{i}.crop_size'] = size
    for loader in LOADERS:
        if 'num_workers' in data and _has(cfg, f'{loader}.num_workers'):
            out[f'{loader}.num_workers'] = int(data['num_workers'])
            if int(data['num_workers']) == 0 and _has(cfg, f'{loader}.persistent_workers'):
                out[f'{loader}.persistent_workers'] = False
    if 'batch_size' in data and _has(cfg, 'train_dataloader.batch_size'):
        out['train_dataloader.batch_size'] = int(data['batch_size'])
    return out


def schedule_cfg_options(cfg: Config,
                         max_iters: int,
                         val_interval: Optional[int] = None,
                         checkpoint_interval: Optional[int] = None,
                         log_interval: Optional[int] = None,
                         scale_schedule: bool = True) -> Dict[str, Any]:
    """Overrides for a shorter run: ``train_cfg.max_iters`` and, with ``scale_schedule``, the iteration-based
    LR schedulers' ``begin``/``end`` scaled by ``max_iters / <config max_iters>`` (so a 200-iteration run
    keeps the warm-up + poly shape of the 2000-iteration schedule); val, checkpoint and log intervals when
    given."""
    out: Dict[str, Any] = {'train_cfg.max_iters': int(max_iters)}
    if val_interval:
        out['train_cfg.val_interval'] = int(val_interval)
    if checkpoint_interval and _has(cfg, 'default_hooks.checkpoint'):
        out['default_hooks.checkpoint.interval'] = int(checkpoint_interval)
    if log_interval and _has(cfg, 'default_hooks.logger'):
        out['default_hooks.logger.interval'] = int(log_interval)
    # explicit milestones either way: tools/train.py fits only implicit ones to an overridden max_iters
    own = cfg.get('train_cfg', {}).get('max_iters')
    out.update(scaled_schedule_options(cfg, int(max_iters) if scale_schedule else own))
    return out


# ------------------------------------------------------------------------------------------------- models
def load_model_config(path: str, cfg_options: Optional[Mapping] = None) -> Config:
    """A config with overrides (nested or dotted) applied; a clear error when it does not exist."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file {path!r} not found; configs live under configs/ '
                                '(e.g. configs/baselines/mtl_synthdrive.py)')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(flatten_options(cfg_options))
    return cfg


def build_model(cfg: Config) -> nn.Module:
    """Build ``cfg.model`` with jdbench's registries in scope."""
    import jdbench
    from jdbench.registry import MODELS
    jdbench.register_all_modules(init_default_scope=True)
    return MODELS.build(cfg.model)


def default_input_size(cfg: Config) -> Tuple[int, int]:
    """(H, W) the model sees: the test ``Resize`` scale, else the config's ``img_size``/``crop_size``."""
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}
    for step in (loader.get('dataset') or {}).get('pipeline') or []:
        if step.get('type') in SCALE_STEPS and isinstance(step.get('scale'), (list, tuple)):
            w, h = step['scale'][:2]
            return int(h), int(w)
    for key in ('img_size', 'crop_size'):
        if isinstance(cfg.get(key), (list, tuple)):
            return int(cfg[key][0]), int(cfg[key][1])
    return 512, 1024


# ----------------------------------------------------------------------------------------------- teachers
def _config_key(path: str) -> str:
    """A config path normalised for matching: absolute and real (a repository-relative path that does not
    exist from here is taken relative to the repository, as :class:`~jdbench.models.teachers.Teacher` does)."""
    if not osp.isabs(path) and not osp.exists(path) and osp.exists(osp.join(REPO_ROOT, path)):
        path = osp.join(REPO_ROOT, path)
    return osp.realpath(path)


def teacher_options(cfg: Config, trained: Mapping[str, str]) -> Dict[str, str]:
    """``--cfg-options`` that point a distiller at teachers trained elsewhere (nothing for other configs).

    ``trained`` maps a teacher config path to the work dir of its run. Every ``model.teachers.<task>`` is
    matched by its ``config`` (paths normalised): ``model.teachers.<task>.checkpoint`` becomes
    ``<dir>/final.pth`` and, when the model has a ``trajectory``, ``model.trajectory.files.<task>`` becomes
    ``<dir>/trajectory.pth`` (what the teacher's ``TrajectoryRecorderHook`` writes). A teacher config not in
    ``trained`` is an error.
    """
    model = cfg.get('model')
    teachers = model.get('teachers') if isinstance(model, Mapping) else None
    if not teachers:
        return {}
    runs = {_config_key(config): work_dir for config, work_dir in trained.items()}
    out: Dict[str, str] = {}
    for task, teacher in teachers.items():
        if teacher is None:
            continue
        config = teacher.get('config')
        work_dir = runs.get(_config_key(config)) if isinstance(config, str) else None
        if work_dir is None:
            raise ValueError(
                f'{cfg.filename or "the config"}: teacher {task!r} is {config!r}, which the suite does not train; '
                f'add that config to the suite\'s teachers (it trains {sorted(trained) or "none"})')
        out[f'model.teachers.{task}.checkpoint'] = osp.join(work_dir, 'final.pth')
        if model.get('trajectory') is not None:
            out[f'model.trajectory.files.{task}'] = osp.join(work_dir, 'trajectory.pth')
    return out


def missing_teacher_options(cfg: Config) -> Dict[str, None]:
    """``{'model.teachers.<task>.checkpoint': None}`` for each distiller teacher whose checkpoint is missing
    (the Teacher then uses random weights, which is fine for counting and timing)."""
    model = cfg.get('model') or {}
    out: Dict[str, None] = {}
    for task, teacher in (model.get('teachers') or {}).items():
        ckpt = (teacher or {}).get('checkpoint')
        if isinstance(ckpt, str) and not osp.isfile(ckpt):
            out[f'model.teachers.{task}.checkpoint'] = None
    return out
