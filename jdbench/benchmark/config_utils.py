"""Config helpers of the benchmark tools: ``--cfg-options``, data/schedule/teacher overrides, building models."""
import os.path as osp
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import torch.nn as nn
from mmengine.config import Config

from jdbench.utils.runner_utils import scaled_schedule_options

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: Pipeline steps whose ``scale`` is (W, H) and ``crop_size`` is (H, W).
SCALE_STEPS = ('Resize', 'RandomResize', 'RandomResizeDepth', 'RandomChoiceResize', 'ResizeSequence')
CROP_STEPS = ('RandomCrop', )
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
#: Frame-sequence datasets (KITTI raw layout): a suite's ``data.sequences`` block applies to them, not ``data``.
SEQUENCE_DATASETS = ('SynthDriveSeqDataset', 'KITTIRawDataset')
#: The ``generate`` keys that a suite's data blocks set: SynthDrive images, and sequences.
IMAGE_GENERATE_KEYS = ('num_train', 'num_val', 'size', 'seed', 'style', 'city')
SEQUENCE_GENERATE_KEYS = ('num_sequences', 'num_frames', 'size', 'seed', 'style', 'num_val', 'num_test')


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


def is_sequence_dataset(node: Mapping) -> bool:
    """A dataset dict of frame sequences: a :data:`SEQUENCE_DATASETS` type (scope prefix allowed) or a
    ``generate`` dict of sequences (``num_sequences``)."""
    kind = str(node.get('type', '')).split('.')[-1]
    gen = node.get('generate')
    return kind in SEQUENCE_DATASETS or (isinstance(gen, Mapping) and 'num_sequences' in gen)


def data_cfg_options(cfg: Config, data: Optional[Mapping]) -> Dict[str, Any]:
    """Overrides that point every dataset of a config at smaller data (only keys the config has are emitted).

    Every dict with a ``data_root`` (loaders' datasets, but also datasets inside the model or hooks, e.g.
    JointDistill's trajectory probe) gets ``data_root``; every SynthDrive ``generate`` dict gets
    ``num_train``, ``num_val``, ``size`` (H, W), ``seed``, ``style``, ``city``; every ``pipeline`` gets the
    resize ``scale`` (W, H) and ``crop_size`` (H, W) of ``size``; the loaders get ``batch_size`` (training) and
    ``num_workers`` (0 turns ``persistent_workers`` off). Top-level variables (``data_root``,
    ``train_pipeline``...) are left alone: the dicts that used them were resolved when the file was read.

    Frame-sequence datasets (:func:`is_sequence_dataset`: SynthDrive sequences, KITTI raw) take their own
    block, ``data['sequences']``, instead: ``data_root``; ``generate`` keys ``num_sequences``, ``num_frames``,
    ``size``, ``seed``, ``style``, ``num_val``, ``num_test``; the pipeline ``scale`` of its ``size``; and, for
    a loader of such a dataset, ``batch_size``/``num_workers`` (else the top-level ones). Without that block
    they keep their config's data (the image options would not fit them). One suite can so train an image
    model (a segmentation teacher) and sequence models (Monodepth2, X-Distill) on data of their own.

    Domain streams (``data['streams']``, e.g. ``dict(source=dict(data_root=..., seed=0), target=dict(...))``):
    a dataset of stream ``S`` takes the top-level block updated with ``streams[S]``, so a source and a target
    domain get roots (and rendering options) of their own. The stream of a dataset dict is found by
    :func:`stream_roots`: it lies under ``streams.S`` (a ``MultiStreamDataset``), or its ``data_root`` is the
    config's root of stream ``S`` (that of a ``streams.S`` dataset, or the top-level variable ``S_root`` of
    the domain-adaptation dataset configs): the val/test loaders on the target, ``source_val_dataloader``,
    and the single-stream configs (source-only, oracle) so follow their domain. Other datasets take the
    top-level block. Without ``streams`` the options are exactly those of a single block.
    """
    data = dict(data or {})
    seq = dict(data.pop('sequences', None) or {})
    streams = data.pop('streams', None) or {}
    if not isinstance(streams, Mapping) or not all(isinstance(v, Mapping) for v in streams.values()):
        raise ValueError(f'data.streams must be dict(<stream>=dict(data_root=..., ...), ...), got {streams!r}')
    blocks = {name: {**data, **dict(block)} for name, block in streams.items()}
    roots = stream_roots(cfg, list(blocks)) if blocks else {}
    out: Dict[str, Any] = {}
    root = getattr(cfg, '_cfg_dict', cfg)
    for key in root:
        if key.startswith('_') or not isinstance(root[key],
                                                 (Mapping, list, tuple)) or key.endswith('pipeline'):
            continue
        for path, node in _walk(root[key], key):
            if not isinstance(node, Mapping):
                continue
            if is_sequence_dataset(node):
                out.update(_dataset_options(path, node, seq, SEQUENCE_GENERATE_KEYS))
            else:
                stream = _stream_of(path, node, roots) if blocks else None
                block = blocks.get(stream, data) if stream is not None else data
                out.update(_dataset_options(path, node, block, IMAGE_GENERATE_KEYS))
    loader_blocks = {loader: _loader_block(cfg, loader, data, seq) for loader in LOADERS}
    for loader, block in loader_blocks.items():
        if 'num_workers' in block and _has(cfg, f'{loader}.num_workers'):
            out[f'{loader}.num_workers'] = int(block['num_workers'])
            if int(block['num_workers']) == 0 and _has(cfg, f'{loader}.persistent_workers'):
                out[f'{loader}.persistent_workers'] = False
    if 'batch_size' in loader_blocks['train_dataloader'] and _has(cfg, 'train_dataloader.batch_size'):
        out['train_dataloader.batch_size'] = int(loader_blocks['train_dataloader']['batch_size'])
    return out


def _stream_under(path: str) -> Optional[str]:
    """``S`` when a dotted config path lies under ``...streams.S``."""
    parts = path.split('.')
    for i in range(len(parts) - 1):
        if parts[i] == 'streams':
            return parts[i + 1]
    return None


def stream_roots(cfg: Config, names: Optional[Sequence[str]] = None) -> Dict[str, str]:
    """The config's ``data_root`` of each domain stream: ``{root: stream}``, from the datasets under
    ``streams.<S>`` (``MultiStreamDataset``) and the top-level ``<S>_root`` variables of the streams in
    ``names`` (the domain-adaptation dataset configs' convention: ``source_root``, ``target_root``; None: any
    ``<S>_root`` but ``data_root``). A root named for two streams is a ValueError."""
    found: Dict[str, str] = {}

    def add(root_value: Any, stream: str, where: str) -> None:
        if not isinstance(root_value, str):
            return
        if found.get(root_value, stream) != stream:
            raise ValueError(f'{where}: data_root {root_value!r} belongs to stream {found[root_value]!r} and to '
                             f'{stream!r}; per-stream data options (data.streams) need one root per stream')
        found[root_value] = stream

    root = getattr(cfg, '_cfg_dict', cfg)
    for key in root:
        if key.startswith('_'):
            continue
        value = root[key]
        stream = key[:-len('_root')] if key.endswith('_root') else None
        if stream and stream != 'data' and (names is None or stream in names) and isinstance(value, str):
            add(value, stream, key)
        if isinstance(value, (Mapping, list, tuple)):
            for path, node in _walk(value, key):
                stream = _stream_under(path)
                if isinstance(node, Mapping) and stream is not None and path.endswith(f'streams.{stream}'):
                    add(node.get('data_root'), stream, path)
    return found


def _stream_of(path: str, node: Mapping, roots: Mapping[str, str]) -> Optional[str]:
    """The domain stream of a dataset dict (:func:`data_cfg_options`), None when it belongs to none."""
    stream = _stream_under(path)
    if stream is not None:
        return stream
    value = node.get('data_root')
    return roots.get(value) if isinstance(value, str) else None


def _loader_block(cfg: Config, loader: str, data: Mapping, seq: Mapping) -> Mapping:
    """The data block of a loader's ``batch_size``/``num_workers``: the top-level one, with the sequence
    block's values for a loader of a sequence dataset."""
    dataset = (cfg.get(loader) or {}).get('dataset')
    if isinstance(dataset, Mapping) and is_sequence_dataset(dataset):
        return {**data, **{k: v for k, v in seq.items() if k in ('num_workers', 'batch_size')}}
    return data


def _dataset_options(path: str, node: Mapping, block: Mapping, generate_keys: Sequence[str]) -> Dict[str, Any]:
    """``data_root``, ``generate`` and pipeline-size options of one config dict, from one data block."""
    out: Dict[str, Any] = {}
    size = tuple(block['size']) if block.get('size') else None
    if 'data_root' in block and isinstance(node.get('data_root'), str):
        out[f'{path}.data_root'] = block['data_root']
    if isinstance(node.get('generate'), Mapping):
        for k in generate_keys:
            if k in block:
                out[f'{path}.generate.{k}'] = tuple(block[k]) if k == 'size' else block[k]
    if size is not None and isinstance(node.get('pipeline'), (list, tuple)):
        for i, step in enumerate(node['pipeline']):
            if not isinstance(step, Mapping):
                continue
            if step.get('type') in SCALE_STEPS and 'scale' in step:
                out[f'{path}.pipeline.{i}.scale'] = (size[1], size[0])
            if step.get('type') in CROP_STEPS and 'crop_size' in step:
                out[f'{path}.pipeline.{i}.crop_size'] = size
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


def teacher_entries(cfg: Config) -> List[Tuple[str, str, Mapping]]:
    """The teachers a config's model names: ``(option prefix, name, teacher dict)`` for every
    ``model.teachers.<task>`` (the distillers) and for a single ``model.teacher`` with a ``config`` (X-Distill;
    named by ``model.teacher_name``, default ``'teacher'``)."""
    model = cfg.get('model')
    if not isinstance(model, Mapping):
        return []
    out = [(f'model.teachers.{task}', task, teacher) for task, teacher in (model.get('teachers') or {}).items()
           if isinstance(teacher, Mapping)]
    single = model.get('teacher')
    if isinstance(single, Mapping) and 'config' in single:
        out.append(('model.teacher', str(model.get('teacher_name') or 'teacher'), single))
    return out


def teacher_options(cfg: Config, trained: Mapping[str, str]) -> Dict[str, str]:
    """``--cfg-options`` that point a distiller at teachers trained elsewhere (nothing for other configs).

    ``trained`` maps a teacher config path to the work dir of its run. Every ``model.teachers.<task>`` (and a
    single ``model.teacher``, as X-Distill has) is matched by its ``config`` (paths normalised):
    ``model.teachers.<task>.checkpoint`` (``model.teacher.checkpoint``) becomes ``<dir>/final.pth`` and, when
    the model has a ``trajectory``, ``model.trajectory.files.<task>`` becomes ``<dir>/trajectory.pth`` (what
    the teacher's ``TrajectoryRecorderHook`` writes). A teacher config not in ``trained`` is an error.
    """
    model = cfg.get('model')
    entries = teacher_entries(cfg)
    if not entries:
        return {}
    runs = {_config_key(config): work_dir for config, work_dir in trained.items()}
    out: Dict[str, str] = {}
    for prefix, task, teacher in entries:
        config = teacher.get('config')
        work_dir = runs.get(_config_key(config)) if isinstance(config, str) else None
        if work_dir is None:
            raise ValueError(
                f'{cfg.filename or "the config"}: teacher {task!r} is {config!r}, which the suite does not train; '
                f'add that config to the suite\'s teachers (it trains {sorted(trained) or "none"})')
        out[f'{prefix}.checkpoint'] = osp.join(work_dir, 'final.pth')
        if prefix.startswith('model.teachers.') and model.get('trajectory') is not None:
            out[f'model.trajectory.files.{task}'] = osp.join(work_dir, 'trajectory.pth')
    return out


def missing_teacher_options(cfg: Config) -> Dict[str, None]:
    """``{'model.teachers.<task>.checkpoint': None}`` (``'model.teacher.checkpoint'`` for a single teacher) for
    each distiller teacher whose checkpoint is missing (the Teacher then uses random weights, which is fine for
    counting and timing)."""
    out: Dict[str, None] = {}
    for prefix, _, teacher in teacher_entries(cfg):
        ckpt = teacher.get('checkpoint')
        if isinstance(ckpt, str) and not osp.isfile(ckpt):
            out[f'{prefix}.checkpoint'] = None
    return out
