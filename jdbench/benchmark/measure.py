"""Model cost: parameters per component, FLOPs, inference latency, training-iteration time and peak memory.

Conventions (stated in every report):

* the *deployed* model is what runs at inference: ``model.student`` for a distiller, else the model itself.
  Parameters are counted for the whole model (teachers and connectors included) and per component; the
  leaderboard's "Params" is the deployed count;
* FLOPs: mmengine's ``get_model_complexity_info`` on the deployed model's ``_forward`` (backbone, neck, heads;
  no resizing to the original size), one fused multiply-add counted as one FLOP (fvcore convention);
* latency: the same forward under ``torch.no_grad``, ``warmup`` runs discarded, then the median and 90th
  percentile of ``repeats`` timed runs (CUDA synchronised), with the batch size, input size, device and
  thread count reported;
* training: ``model.train_step`` (data pre-processing, forward incl. teachers, weighting, backward, optimiser
  step) on a synthetic batch, in a child process (:func:`~.child.measure_train_in_child`) so one measurement
  does not pollute the next: median seconds per iteration and peak memory (CUDA max allocated, or on CPU the
  process peak RSS; ``train_mem_mb`` subtracts the RSS before the model was built: interpreter, libraries).
  Before each step the model is fed its trajectory probe as the config's ``TrajectoryHook`` would
  (:func:`trajectory_feed`).
"""
import contextlib
import platform
import resource
import subprocess
import sys
import time
from dataclasses import replace
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from .records import FLOPS_COUNTER, CostSettings


# ---------------------------------------------------------------------------------------------- parameters
def _unregistered_teachers(model: nn.Module) -> Dict[str, nn.Module]:
    """Teachers a distiller keeps in a plain dict (not sub-modules, so not in ``model.parameters()``)."""
    teachers = getattr(model, 'teachers', None)
    if isinstance(teachers, dict) and not isinstance(teachers, nn.Module):
        return {k: m for k, m in teachers.items() if isinstance(m, nn.Module)}
    return {}


def _unique_params(modules: Sequence[nn.Module]) -> List[nn.Parameter]:
    seen, out = set(), []
    for mod in modules:
        for p in mod.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                out.append(p)
    return out


def count_parameters(module: nn.Module) -> Dict[str, int]:
    """``{'total': ..., 'trainable': ...}`` parameter counts (shared parameters counted once; a distiller's
    unregistered teachers included)."""
    params = _unique_params([module, *_unregistered_teachers(module).values()])
    return dict(
        total=sum(p.numel() for p in params), trainable=sum(p.numel() for p in params if p.requires_grad))


def _components(module: nn.Module, prefix: str, expand: Sequence[str]) -> Dict[str, nn.Module]:
    out: Dict[str, nn.Module] = {}
    for name, child in module.named_children():
        full = f'{prefix}{name}'
        if name in expand:
            out.update(_components(child, f'{full}.', ()))
        elif isinstance(child, nn.ModuleDict):
            out.update({f'{full}.{k}': m for k, m in child.items()})
        else:
            out[full] = child
    return out


def parameter_breakdown(model: nn.Module) -> Dict[str, Dict[str, int]]:
    """Parameter counts per component, components with parameters only.

    Top-level children are components; a ``ModuleDict`` (heads, connectors) gives one component per entry
    (``heads.seg``); a distiller's ``student`` is split the same way (``student.backbone``,
    ``student.heads.seg``...) and its teachers are ``teachers.<name>``. Parameters held directly by the
    model are ``other``. The components sum to :func:`count_parameters` ``total``.
    """
    comps = _components(model, '', ('student', ))
    comps.update({f'teachers.{k}': m for k, m in _unregistered_teachers(model).items()})
    out, seen = {}, set()
    for name, mod in comps.items():
        params = [p for p in mod.parameters() if id(p) not in seen]
        seen.update(id(p) for p in params)
        if params:
            out[name] = dict(
                total=sum(p.numel() for p in params),
                trainable=sum(p.numel() for p in params if p.requires_grad))
    rest = [p for p in model.parameters() if id(p) not in seen]
    if rest:
        out['other'] = dict(
            total=sum(p.numel() for p in rest), trainable=sum(p.numel() for p in rest if p.requires_grad))
    return out


def deployed_model(model: nn.Module) -> nn.Module:
    """What runs at inference: a distiller's ``student``, else the model."""
    student = getattr(model, 'student', None)
    return student if isinstance(student, nn.Module) else model


# --------------------------------------------------------------------------------------------------- FLOPs
class TensorForward(nn.Module):
    """``model._forward(x)`` with its ``{task: output}`` dict returned as a tuple (traceable)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        out = self.model._forward(x)
        return tuple(out.values()) if isinstance(out, dict) else out


@contextlib.contextmanager
def _without_extra_state(model: nn.Module) -> Iterator[None]:
    """Detach sub-modules that keep a non-tensor ``extra_state`` (weighting strategies) while tracing: torch's
    tracer cannot take them as inputs, and ``_forward`` does not use them."""
    hidden = [(parent, name, child) for parent in model.modules() for name, child in parent._modules.items()
              if child is not None and type(child).get_extra_state is not nn.Module.get_extra_state]
    for parent, name, _ in hidden:
        parent._modules[name] = None
    try:
        yield
    finally:
        for parent, name, child in hidden:
            parent._modules[name] = child


def count_flops(model: nn.Module, input_shape: Tuple[int, int, int]) -> int:
    """FLOPs of one forward of a ``1×C×H×W`` input (see the module docstring for the convention)."""
    from mmengine.analysis import get_model_complexity_info
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    was_training, level = model.training, logger.level
    model.eval()
    logger.setLevel('ERROR')  # the counter warns about every op it does not count (batch norm, adds...)
    try:
        with torch.no_grad(), _without_extra_state(model):
            x = torch.zeros(1, *input_shape, device=next(model.parameters()).device)
            info = get_model_complexity_info(
                TensorForward(model), inputs=(x, ), show_table=False, show_arch=False)
    finally:
        model.train(was_training)
        logger.setLevel(level)
    return int(info['flops'])


# ------------------------------------------------------------------------------------------------- latency
def device_description(device: str) -> str:
    """A human-readable device name (GPU name, or the CPU model)."""
    if device.startswith('cuda'):
        return f'{device} ({torch.cuda.get_device_name(torch.device(device))})'
    name = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            name = next((ln.split(':', 1)[1].strip() for ln in f if ln.startswith('model name')), name)
    except OSError:
        pass
    return f'cpu ({name})'


def _sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize(torch.device(device))


def measure_latencies(models: Mapping[str, nn.Module],
                      input_shape: Tuple[int, int, int],
                      settings: CostSettings = CostSettings()) -> Dict[str, dict]:
    """Inference latency (ms) of several models' ``_forward``, measured *interleaved*.

    After ``settings.warmup`` rounds, each of ``settings.repeats`` rounds times one forward (a
    ``settings.batch_size`` batch) of every model, the order rotated from round to round, so that a slow period
    of a shared machine hits all models alike and the ratios stay meaningful. Returns, per model, the median,
    p90, mean and min with the measurement conditions.
    """
    device, warmup, repeats = settings.device, settings.warmup, settings.repeats
    mods = {name: m.to(device).eval() for name, m in models.items()}
    names = list(mods)
    x = torch.randn(settings.batch_size, *input_shape, device=device)
    times: Dict[str, List[float]] = {name: [] for name in names}
    with torch.no_grad():
        for _ in range(warmup):
            for name in names:
                mods[name]._forward(x)
        for r in range(repeats):
            for name in names[r % len(names):] + names[:r % len(names)]:
                _sync(device)
                start = time.perf_counter()
                mods[name]._forward(x)
                _sync(device)
                times[name].append((time.perf_counter() - start) * 1000.0)
    info = dict(batch_size=settings.batch_size, input_shape=list(input_shape), device=device_description(device),
                threads=torch.get_num_threads(), warmup=warmup, repeats=repeats, interleaved_with=len(names))
    out = {}
    for name, ts in times.items():
        arr = np.asarray(ts)
        out[name] = dict(median_ms=float(np.median(arr)), p90_ms=float(np.percentile(arr, 90)),
                         mean_ms=float(arr.mean()), min_ms=float(arr.min()), **info)
    return out


def measure_latency(model: nn.Module, input_shape: Tuple[int, int, int],
                    settings: CostSettings = CostSettings()) -> dict:
    """Inference latency of one model's ``_forward`` in ms (median, p90, mean, min over the repeats)."""
    return measure_latencies({'model': model}, input_shape, settings)['model']


# ------------------------------------------------------------------------------------------------ training
def _rss_mb() -> float:
    """Current resident set size of this process in MiB (Linux ``/proc``; 0 where unavailable)."""
    try:
        with open('/proc/self/status') as f:
            kb = next(int(ln.split()[1]) for ln in f if ln.startswith('VmRSS:'))
        return kb / 1024.0
    except (OSError, StopIteration):
        return 0.0


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == 'darwin' else peak / 1024.0


def seg_classes(model: nn.Module) -> int:
    """Class count for synthetic labels: the largest ``num_classes`` of a segmentation head (19 if none)."""
    counts = [
        int(m.num_classes) for m in model.modules()
        if isinstance(getattr(m, 'num_classes', None), int) and m is not model
    ]
    return max(counts) if counts else 19


def synthetic_batch(batch_size: int, size: Tuple[int, int], num_classes: int, seed: int = 0) -> dict:
    """A data-loader-like batch: uint8 images and samples with ``gt_sem_seg`` and ``gt_depth_map``."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    gen = torch.Generator().manual_seed(seed)
    h, w = size
    inputs, samples = [], []
    for _ in range(batch_size):
        inputs.append(torch.randint(0, 256, (3, h, w), generator=gen, dtype=torch.uint8))
        s = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, h, w), generator=gen))
        s.gt_depth_map = PixelData(data=torch.rand(1, h, w, generator=gen) * 70 + 1)
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


#: The streams of a domain-adaptation model's training batch (AdaptSegNet, DAKD: a labelled source and a target).
DOMAIN_STREAMS = ('source', 'target')


def is_multi_stream_model(model: nn.Module) -> bool:
    """A model trained on batches of several streams (``MultiStreamDataPreProcessor``: AdaptSegNet, DAKD)."""
    return type(getattr(model, 'data_preprocessor', None)).__name__ == 'MultiStreamDataPreProcessor'


def synthetic_stream_batch(batch_size: int, size: Tuple[int, int], num_classes: int,
                           streams: Sequence[str] = DOMAIN_STREAMS) -> dict:
    """``{stream: synthetic_batch(...)}``, one batch per stream (each drawn from its own seed)."""
    return {name: synthetic_batch(batch_size, size, num_classes, seed=i) for i, name in enumerate(streams)}


def is_sequence_model(model: nn.Module) -> bool:
    """A model that reads packed frame sequences (``SequenceDataPreProcessor``: Monodepth2, X-Distill)."""
    return type(getattr(model, 'data_preprocessor', None)).__name__ == 'SequenceDataPreProcessor'


def synthetic_sequence_batch(batch_size: int, size: Tuple[int, int], frame_ids: Sequence[int] = (0, -1, 1),
                             seed: int = 0) -> dict:
    """A data-loader-like batch of frame sequences, as ``PackSequenceInputs`` packs them: uint8 inputs
    ``(3·F·2, H, W)`` (the raw frames, then the colour-augmented ones), samples with ``frame_ids``, a 4×4
    ``K`` (focal length 0.58 W, Monodepth2's, centred principal point), ``has_aug`` and a
    ``gt_depth_map``. Frame f is frame 0 shifted by f pixels, so the warps see image structure."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    gen = torch.Generator().manual_seed(seed)
    h, w = size
    f = 0.58 * w
    K = [[f, 0.0, (w - 1) / 2, 0.0], [0.0, f, (h - 1) / 2, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
    inputs, samples = [], []
    for _ in range(batch_size):
        base = torch.randint(0, 256, (3, h, w + 2 * max(abs(i) for i in frame_ids)), generator=gen,
                             dtype=torch.uint8)
        pad = (base.shape[2] - w) // 2
        frames = [base[:, :, pad + i:pad + i + w] for i in frame_ids]
        inputs.append(torch.cat(frames + frames, dim=0).contiguous())
        s = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w),
                                        frame_ids=tuple(frame_ids), K=K, has_aug=True))
        s.gt_depth_map = PixelData(data=torch.rand(1, h, w, generator=gen) * 70 + 1)
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def settled(times: Sequence[float], last: int = 3, tolerance: float = 0.1) -> bool:
    """Whether the ``last`` step times agree within ``tolerance`` (relative to their minimum)."""
    if len(times) < last:
        return False
    tail = times[-last:]
    return max(tail) <= (1.0 + tolerance) * min(tail)


def trajectory_feed(cfg, model: nn.Module) -> Optional[Callable[[int], None]]:
    """``feed(iteration)``: what the config's ``TrajectoryHook`` hands the model before a training iteration.

    The probe set of the hook's ``probe_dataloader`` every ``interval`` iterations (else None) and the progress
    ``iteration / train_cfg.max_iters``, through ``model.feed_trajectory``. None when the model has no such
    method or no trajectory term, or the config no ``TrajectoryHook``.
    """
    feed = getattr(model, 'feed_trajectory', None)
    entry = next((h for h in cfg.get('custom_hooks') or []
                  if str(h.get('type', '')).split('.')[-1] == 'TrajectoryHook'), None)
    if not callable(feed) or entry is None or getattr(model, 'trajectory', None) is None:
        return None
    from jdbench.engine.hooks.trajectory_hook import load_probe
    from jdbench.registry import HOOKS
    hook = HOOKS.build(entry)  # its settings with their defaults; the hook itself needs a runner
    probe = load_probe(hook.probe_dataloader)
    max_iters = int((cfg.get('train_cfg') or {}).get('max_iters', 1000))

    def feed_iteration(iteration: int) -> None:
        feed(probe if iteration % hook.interval == 0 else None, iteration / max_iters)

    return feed_iteration


def measure_train_step(model: nn.Module,
                       optim_wrapper,
                       batch: dict,
                       settings: CostSettings = CostSettings(),
                       base_mem_mb: Optional[float] = None,
                       max_warmup: int = 12,
                       feed: Optional[Callable[[int], None]] = None) -> dict:
    """Seconds per ``model.train_step`` (median and p90 of ``settings.train_iters`` after the warm-up) and
    peak memory.

    Warm-up: at least ``settings.train_warmup`` steps, then more (up to ``max_warmup``) until the last three
    agree within 10% (:func:`settled`). A fresh CPU process runs its first ~5 steps several times slower
    (torch/oneDNN set-up, not the model), which a fixed short warm-up would count; comparing with the first
    step alone is fooled when that step also did periodic work (JointDistill's trajectory probe at iteration
    0). ``feed(i)`` runs before step ``i`` (untimed), as a training hook would (:func:`trajectory_feed`).
    Meant to run in a fresh process (:func:`~.child.measure_train_in_child`): the CPU peak RSS is
    process-wide.
    """
    device, warmup = settings.device, settings.train_warmup
    model.train()
    cuda = device.startswith('cuda')
    if cuda:
        torch.cuda.reset_peak_memory_stats(torch.device(device))
    iteration = 0

    def step() -> float:
        nonlocal iteration
        if feed is not None:
            feed(iteration)
        _sync(device)
        start = time.perf_counter()
        model.train_step(batch, optim_wrapper)
        _sync(device)
        iteration += 1  # as under a Runner: periodic work (the trajectory probe) keeps its rate
        return time.perf_counter() - start

    warm = [step() for _ in range(warmup)]
    while len(warm) < max(warmup, max_warmup) and not settled(warm):
        warm.append(step())
    arr = np.asarray([step() for _ in range(settings.train_iters)])
    out = dict(
        iter_time_s=float(np.median(arr)),
        iter_time_p90_s=float(np.percentile(arr, 90)),
        iter_time_mean_s=float(arr.mean()),
        iters=settings.train_iters,
        warmup=len(warm),
        device=device_description(device),
        threads=torch.get_num_threads())
    if cuda:
        peak = torch.cuda.max_memory_allocated(torch.device(device)) / 2**20
        out.update(peak_mem_mb=peak, train_mem_mb=peak, mem_kind='CUDA max allocated')
    else:
        peak = _peak_rss_mb()
        base = base_mem_mb if base_mem_mb is not None else 0.0
        out.update(
            peak_mem_mb=peak,
            base_mem_mb=base,
            train_mem_mb=peak - base,
            mem_kind='process peak RSS (train_mem_mb: minus the RSS before building the model)')
    return out


def measure_calls_interleaved(calls: Mapping[str, Callable[[], object]],
                              settings: CostSettings = CostSettings(),
                              max_warmup: int = 12) -> Dict[str, dict]:
    """Seconds per call of several callables (training steps, no-grad forwards), measured *interleaved*.

    Warm-up rounds (at least ``settings.train_warmup``, more up to ``max_warmup`` until every callable's last
    three times agree within 10%), then ``settings.train_iters`` rounds that time one call of each, the order
    rotated from round to round, as :func:`measure_latencies` does: a slow period of a shared machine hits all
    of them alike, so their *ratios* stay meaningful where separate processes drift apart. Returns, per name,
    the median, p90 and mean seconds.
    """
    device, names = settings.device, list(calls)
    warm: Dict[str, List[float]] = {name: [] for name in names}
    times: Dict[str, List[float]] = {name: [] for name in names}

    def timed(name: str) -> float:
        _sync(device)
        start = time.perf_counter()
        calls[name]()
        _sync(device)
        return time.perf_counter() - start

    rounds = 0
    while rounds < settings.train_warmup or (rounds < max_warmup
                                             and not all(settled(warm[n]) for n in names)):
        for name in names:
            warm[name].append(timed(name))
        rounds += 1
    for r in range(settings.train_iters):
        for name in names[r % len(names):] + names[:r % len(names)]:
            times[name].append(timed(name))
    out = {}
    for name, ts in times.items():
        arr = np.asarray(ts)
        out[name] = dict(iter_time_s=float(np.median(arr)), iter_time_p90_s=float(np.percentile(arr, 90)),
                         iter_time_mean_s=float(arr.mean()), iters=len(ts), warmup=rounds,
                         device=device_description(device), threads=torch.get_num_threads(),
                         interleaved_with=len(names))
    return out


def run_train_measurement(config: str, cfg_options: Optional[dict] = None,
                          settings: CostSettings = CostSettings()) -> dict:
    """Build the model and optimiser of a config and measure its training step (the child's body)."""
    base = _rss_mb()
    from mmengine.optim import build_optim_wrapper

    from .config_utils import build_model, default_input_size, load_model_config
    cfg = load_model_config(config, cfg_options)
    size = tuple(settings.input_size) if settings.input_size else default_input_size(cfg)
    bs = settings.train_batch_size or int(cfg.get('train_dataloader', {}).get('batch_size', 2))
    model = build_model(cfg).to(settings.device)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    if is_sequence_model(model):
        batch = synthetic_sequence_batch(bs, size)
    elif is_multi_stream_model(model):  # bs images per stream, as train_dataloader.batch_size gives them
        batch = synthetic_stream_batch(bs, size, seg_classes(model))
    else:
        batch = synthetic_batch(bs, size, seg_classes(model))
    out = measure_train_step(model, optim_wrapper, batch, settings, base_mem_mb=base,
                             feed=trajectory_feed(cfg, model))
    out.update(batch_size=bs, input_shape=[3, *size])
    return out


# ------------------------------------------------------------------------------------------------- driver
def build_for_cost(config: str, cfg_options: Optional[dict] = None):
    """``(cfg, model, options, random_teachers)`` of a config for cost analysis: missing teacher checkpoints are
    replaced by random weights (``random_teachers`` holds those overrides, ``options`` includes them)."""
    from .config_utils import build_model, load_model_config, missing_teacher_options
    cfg = load_model_config(config, cfg_options)
    random_teachers = missing_teacher_options(cfg)
    if random_teachers:
        cfg_options = {**(cfg_options or {}), **random_teachers}
        cfg = load_model_config(config, cfg_options)
    return cfg, build_model(cfg), cfg_options, random_teachers


def _teacher_name(option: str) -> str:
    """``'model.teachers.seg.checkpoint'`` -> ``'seg'``; ``'model.teacher.checkpoint'`` -> ``'teacher'``."""
    parts = option.split('.')
    return parts[2] if parts[1] == 'teachers' else parts[1]


def analyze_config(config: str,
                   checkpoint: Optional[str] = None,
                   cfg_options: Optional[dict] = None,
                   settings: CostSettings = CostSettings()) -> dict:
    """The full cost record (``cost.json``) of a config: parameters, FLOPs, latency, training step.

    Parameters, FLOPs and latency are measured here; the training step in a child process. A failing part is
    recorded as ``{'error': ...}`` and the others still reported. ``checkpoint`` (optional) is loaded like
    everywhere else (:func:`jdbench.utils.load_weights`: a full model or a student-only export).
    """
    from jdbench.utils import load_weights
    from .child import measure_train_in_child
    from .config_utils import default_input_size
    cfg, model, cfg_options, random_teachers = build_for_cost(config, cfg_options)
    size = tuple(settings.input_size) if settings.input_size else default_input_size(cfg)
    loaded = load_weights(model, checkpoint) if checkpoint else None
    deployed = deployed_model(model)
    record = dict(
        config=config,
        checkpoint=checkpoint,
        weights_loaded_into=loaded,
        model=type(model).__name__,
        deployed='student' if deployed is not model else 'model',
        input_size=list(size))
    if random_teachers:
        record['note'] = (
            f'teacher checkpoint(s) missing ({", ".join(_teacher_name(k) for k in random_teachers)}): '
            'random teacher weights; costs do not depend on the weights')
    record['params'] = dict(
        **count_parameters(model),
        deployed=count_parameters(deployed)['total'],
        components=parameter_breakdown(model))
    if settings.flops:
        try:
            record['flops'] = dict(
                total=count_flops(deployed, (3, *size)), input_shape=[1, 3, *size], counter=FLOPS_COUNTER)
        except Exception as err:  # noqa: BLE001  (tracing can fail on exotic ops: report, keep going)
            record['flops'] = dict(total=None, error=f'{type(err).__name__}: {err}')
    if settings.latency:
        record['latency'] = measure_latency(deployed, (3, *size), settings)
    if settings.train:
        try:
            record['train'] = measure_train_in_child(config, cfg_options, replace(settings, input_size=size))
        except (RuntimeError, subprocess.TimeoutExpired) as err:
            record['train'] = dict(error=str(err).splitlines()[0], detail=str(err))
    return record
