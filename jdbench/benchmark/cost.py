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
  step) on a synthetic batch, in a child process (:func:`measure_train_in_child`) so one measurement does not
  pollute the next: median seconds per iteration and peak memory (CUDA max allocated, or on CPU the
  process peak RSS; ``train_mem_mb`` subtracts the RSS before the model was built: interpreter, libraries).
"""
import contextlib
import json
import os.path as osp
import platform
import resource
import subprocess
import sys
import time
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

RESULT_PREFIX = 'JDBENCH_RESULT '
FLOPS_COUNTER = 'mmengine get_model_complexity_info (1 multiply-add = 1 FLOP)'


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
                      batch_size: int = 1,
                      warmup: int = 5,
                      repeats: int = 20,
                      device: str = 'cpu') -> Dict[str, dict]:
    """Inference latency (ms) of several models' ``_forward``, measured *interleaved*.

    After ``warmup`` rounds, each of ``repeats`` rounds times one forward of every model, the order rotated
    from round to round, so that a slow period of a shared machine hits all models alike and the ratios stay
    meaningful. Returns, per model, the median, p90, mean and min with the measurement conditions.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f'repeats must be >= 1 and warmup >= 0, got {repeats}, {warmup}')
    mods = {name: m.to(device).eval() for name, m in models.items()}
    names = list(mods)
    x = torch.randn(batch_size, *input_shape, device=device)
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
    info = dict(batch_size=batch_size, input_shape=list(input_shape), device=device_description(device),
                threads=torch.get_num_threads(), warmup=warmup, repeats=repeats, interleaved_with=len(names))
    out = {}
    for name, ts in times.items():
        arr = np.asarray(ts)
        out[name] = dict(median_ms=float(np.median(arr)), p90_ms=float(np.percentile(arr, 90)),
                         mean_ms=float(arr.mean()), min_ms=float(arr.min()), **info)
    return out


def measure_latency(model: nn.Module,
                    input_shape: Tuple[int, int, int],
                    batch_size: int = 1,
                    warmup: int = 5,
                    repeats: int = 20,
                    device: str = 'cpu') -> dict:
    """Inference latency of one model's ``_forward`` in ms (median, p90, mean, min over ``repeats``)."""
    return measure_latencies({'model': model}, input_shape, batch_size, warmup, repeats, device)['model']


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


def settled(times: Sequence[float], last: int = 3, tolerance: float = 0.1) -> bool:
    """Whether the ``last`` step times agree within ``tolerance`` (relative to their minimum)."""
    if len(times) < last:
        return False
    tail = times[-last:]
    return max(tail) <= (1.0 + tolerance) * min(tail)


def measure_train_step(model: nn.Module,
                       optim_wrapper,
                       batch: dict,
                       iters: int = 3,
                       warmup: int = 1,
                       device: str = 'cpu',
                       base_mem_mb: Optional[float] = None,
                       max_warmup: int = 12) -> dict:
    """Seconds per ``model.train_step`` (median and p90 of ``iters`` after the warm-up) and peak memory.

    Warm-up: at least ``warmup`` steps, then more (up to ``max_warmup``) until the last three agree within
    10% (:func:`settled`). A fresh CPU process runs its first ~5 steps several times slower (torch/oneDNN
    set-up, not the model), which a fixed short warm-up would count; comparing with the first step alone is
    fooled when that step also did periodic work (JointDistill's trajectory probe at iteration 0). Meant to run
    in a fresh process (:func:`measure_train_in_child`): the CPU peak RSS is process-wide.
    """
    if iters < 1:
        raise ValueError(f'iters must be >= 1, got {iters}')
    model.train()
    cuda = device.startswith('cuda')
    if cuda:
        torch.cuda.reset_peak_memory_stats(torch.device(device))

    from mmengine.logging import MessageHub
    hub = MessageHub.get_current_instance()

    def step() -> float:
        _sync(device)
        start = time.perf_counter()
        model.train_step(batch, optim_wrapper)
        _sync(device)
        # the iteration advances as under a Runner: periodic terms (JointDistill's trajectory probe) keep their
        # rate instead of running at every timed step
        hub.update_info('iter', int(hub.get_info('iter') or 0) + 1)
        return time.perf_counter() - start

    warm = [step() for _ in range(warmup)]
    while len(warm) < max(warmup, max_warmup) and not settled(warm):
        warm.append(step())
    arr = np.asarray([step() for _ in range(iters)])
    out = dict(
        iter_time_s=float(np.median(arr)),
        iter_time_p90_s=float(np.percentile(arr, 90)),
        iter_time_mean_s=float(arr.mean()),
        iters=iters,
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


def _runner_info(cfg) -> None:
    """What a Runner puts in the message hub and models may read in ``train_step``: the iteration, the
    training length and the running config (e.g. JointDistill's trajectory probe takes its dataset from it)."""
    from mmengine.logging import MessageHub
    hub = MessageHub.get_current_instance()
    max_iters = int((cfg.get('train_cfg') or {}).get('max_iters', 1000))
    for key, value in dict(iter=0, epoch=0, max_iters=max_iters, max_epochs=1, cfg=cfg.pretty_text).items():
        hub.update_info(key, value)


def run_train_measurement(config: str,
                          cfg_options: Optional[dict] = None,
                          batch_size: Optional[int] = None,
                          input_size: Optional[Tuple[int, int]] = None,
                          iters: int = 3,
                          warmup: int = 1,
                          device: str = 'cpu') -> dict:
    """Build the model and optimiser of a config and measure its training step (the child's body)."""
    base = _rss_mb()
    from mmengine.optim import build_optim_wrapper
    from jdbench.benchmark.config_utils import build_model, default_input_size, load_model_config
    cfg = load_model_config(config, cfg_options)
    size = tuple(input_size) if input_size else default_input_size(cfg)
    bs = batch_size or int(cfg.get('train_dataloader', {}).get('batch_size', 2))
    model = build_model(cfg).to(device)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    _runner_info(cfg)
    batch = synthetic_batch(bs, size, seg_classes(model))
    out = measure_train_step(model, optim_wrapper, batch, iters, warmup, device, base_mem_mb=base)
    out.update(batch_size=bs, input_shape=[3, *size])
    return out


def measure_train_in_child(config: str,
                           cfg_options: Optional[dict] = None,
                           batch_size: Optional[int] = None,
                           input_size: Optional[Tuple[int, int]] = None,
                           iters: int = 3,
                           warmup: int = 1,
                           device: str = 'cpu',
                           timeout: float = 600.0) -> dict:
    """:func:`run_train_measurement` in a fresh Python process (``python -m jdbench.benchmark.worker``)."""
    from jdbench.benchmark.commands import child_env, worker_command
    cmd = [*worker_command(), 'train-cost', config, '--iters', str(iters), '--warmup', str(warmup), '--device', device]
    if batch_size:
        cmd += ['--batch-size', str(batch_size)]
    if input_size:
        cmd += ['--input-size', *map(str, input_size)]
    if cfg_options:
        from jdbench.benchmark.config_utils import to_cli_options
        cmd += ['--cfg-options', *to_cli_options(cfg_options)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=child_env())
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    last = lines[-1] if lines else 'no output'
    tail = '\n'.join(lines[-15:])
    raise RuntimeError(f'training-cost measurement of {config} failed (exit {proc.returncode}): {last}\n{tail}')


# ------------------------------------------------------------------------------------------------ reports
def cost_summary(cost: Mapping) -> Dict[str, Optional[float]]:
    """The numbers the leaderboard and comparisons use, from a ``cost.json`` record.

    ``params`` (deployed), ``flops``, ``latency`` (median ms), ``train_time`` (median s/iter), ``train_mem``
    (MB).
    """
    params, flops = cost.get('params') or {}, cost.get('flops') or {}
    lat, train = cost.get('latency') or {}, cost.get('train') or {}
    return dict(
        params=params.get('deployed'),
        flops=flops.get('total'),
        latency=lat.get('median_ms'),
        train_time=train.get('iter_time_s'),
        train_mem=train.get('train_mem_mb'))


def cost_conditions(cost: Mapping) -> str:
    """One line saying how a cost record was measured (for the notes under a leaderboard)."""
    size = 'x'.join(map(str, cost.get('input_size') or [])) or '?'
    lat = cost.get('latency') or {}
    text = (f'Params: deployed model (the student for distillers); FLOPs at input {size} '
            '(1 multiply-add = 1 FLOP)')
    if lat:
        text += (f'; latency: median of {lat.get("repeats", "?")} runs, batch {lat.get("batch_size", "?")}, '
                 f'{lat.get("device", "?")}, {lat.get("threads", "?")} threads')
    return text + '.'


def combine_summaries(summaries: Sequence[Mapping[str, Optional[float]]]) -> Dict[str, Optional[float]]:
    """Cost of several separate models used together: parameters, FLOPs, latency and training time add up;
    training memory is the largest (the models are trained one after the other). None if any is missing."""
    out: Dict[str, Optional[float]] = {}
    for key in ('params', 'flops', 'latency', 'train_time', 'train_mem'):
        vals = [s.get(key) for s in summaries]
        if not vals or any(v is None for v in vals):
            out[key] = None
        else:
            out[key] = max(vals) if key == 'train_mem' else sum(vals)
    return out


#: key, noun, (word when the subject is smaller, word when larger), unit formatter
RATIO_FIELDS = (
    ('params', 'parameters', ('fewer', 'more'), lambda v: f'{v / 1e6:.2f}M'),
    ('flops', 'FLOPs', ('fewer', 'more'), lambda v: f'{v / 1e9:.2f}G'),
    ('latency', 'latency', ('lower', 'higher'), lambda v: f'{v:.2f} ms'),
    ('train_time', 'training time per iteration', ('less', 'more'), lambda v: f'{v:.3f} s'),
    ('train_mem', 'training memory', ('less', 'more'), lambda v: f'{v:.0f} MB'),
)


def ratio_phrase(subject: float, reference: float, noun: str, words: Tuple[str, str], fmt) -> str:
    """E.g. ``'32% fewer parameters (1.20M vs 1.76M)'``; relative to the reference."""
    if reference == 0:
        return f'{noun}: {fmt(subject)} vs {fmt(reference)}'
    change = (reference - subject) / reference * 100.0
    word = words[0] if change >= 0 else words[1]
    return f'{abs(change):.0f}% {word} {noun} ({fmt(subject)} vs {fmt(reference)})'


def compare_costs(subject: str, summaries: Mapping[str, Mapping[str, Optional[float]]],
                  groups: Mapping[str, Sequence[str]]) -> Tuple[List[str], dict]:
    """Lines like ``'jd vs teachers (seg + depth): 32% fewer parameters (...), 21% lower latency (...)'`` and
    the same as JSON (``{group: {members, combined, ratios: {key: subject / reference}}}``).

    Args:
        subject: the name of the deployed model in ``summaries``.
        summaries: name -> :func:`cost_summary`.
        groups: reference name -> the models it consists of (combined by :func:`combine_summaries`).
    """
    if subject not in summaries:
        raise ValueError(f'no cost for {subject!r}; have {sorted(summaries)}')
    subj = summaries[subject]
    lines, data = [], dict(subject=subject, subject_cost=dict(subj), groups={})
    for name, members in groups.items():
        missing = [m for m in members if m not in summaries]
        if missing:
            lines.append(f'{subject} vs {name}: no cost for {", ".join(missing)}')
            continue
        combined = combine_summaries([summaries[m] for m in members])
        phrases, ratios = [], {}
        for key, noun, words, fmt in RATIO_FIELDS:
            s, r = subj.get(key), combined.get(key)
            if s is None or r is None:
                continue
            phrases.append(ratio_phrase(s, r, noun, words, fmt))
            ratios[key] = s / r if r else None
        label = name if list(members) == [name] else f'{name} ({" + ".join(members)})'
        line = f'{subject} vs {label}: ' + (', '.join(phrases) or 'nothing measured on both')
        if all(subj.get(k) is not None and subj.get(k) == combined.get(k) for k in ('params', 'flops')):
            line += ' [same parameter and FLOP counts: the latency difference is measurement noise]'
        lines.append(line)
        data['groups'][name] = dict(members=list(members), combined=combined, ratios=ratios)
    return lines, data


def format_cost(cost: Mapping) -> str:
    """A cost record as a readable report (component table, FLOPs, latency, training)."""
    from prettytable import PrettyTable
    lines = [
        f'config: {cost.get("config")}' +
        (f'  checkpoint: {cost["checkpoint"]}' if cost.get('checkpoint') else '')
    ]
    if cost.get('note'):
        lines.append(f'note: {cost["note"]}')
    params = cost.get('params') or {}
    table = PrettyTable(['component', 'params', 'trainable'])
    table.align['component'] = 'l'
    for name, c in (params.get('components') or {}).items():
        table.add_row([name, f'{c["total"]:,}', f'{c["trainable"]:,}'])
    table.add_row(['total', f'{params.get("total", 0):,}', f'{params.get("trainable", 0):,}'])
    lines += [
        table.get_string(), f'deployed ({cost.get("deployed", "model")}): {params.get("deployed", 0):,} '
        'parameters'
    ]
    flops = cost.get('flops') or {}
    if flops.get('total') is not None:
        lines.append(
            f'FLOPs: {flops["total"] / 1e9:.3f} G at input {"x".join(map(str, flops["input_shape"]))} '
            f'({FLOPS_COUNTER})')
    elif flops.get('error'):
        lines.append(f'FLOPs: not counted ({flops["error"]})')
    lat = cost.get('latency')
    if lat:
        lines.append(f'latency: median {lat["median_ms"]:.2f} ms, p90 {lat["p90_ms"]:.2f} ms (batch '
                     f'{lat["batch_size"]}, input {"x".join(map(str, lat["input_shape"]))}, {lat["device"]}, '
                     f'{lat["threads"]} threads, {lat["warmup"]} warm-up + {lat["repeats"]} runs)')
    train = cost.get('train')
    if train and 'iter_time_s' in train:
        lines.append(
            f'training: {train["iter_time_s"]:.3f} s/iter (median of {train["iters"]}, batch '
            f'{train["batch_size"]}, input {"x".join(map(str, train["input_shape"]))}, {train["device"]}, '
            f'{train["threads"]} threads); peak memory {train["peak_mem_mb"]:.0f} MB '
            f'({train["mem_kind"]}), training footprint {train["train_mem_mb"]:.0f} MB')
    elif train and train.get('error'):
        lines.append(f'training: not measured ({train["error"]})')
    return '\n'.join(lines)


# ------------------------------------------------------------------------------------------------- driver
def missing_teacher_options(cfg) -> Dict[str, None]:
    """``{'model.teachers.<name>.checkpoint': None}`` for each distiller teacher whose checkpoint is missing
    (the Teacher then uses random weights, which is fine for counting and timing)."""
    model = cfg.get('model') or {}
    out: Dict[str, None] = {}
    for name, teacher in (model.get('teachers') or {}).items():
        ckpt = (teacher or {}).get('checkpoint')
        if isinstance(ckpt, str):
            ckpt = ckpt.replace('{teacher_work_dir}', str(model.get('teacher_work_dir') or 'work_dirs'))
            if not osp.isfile(ckpt):
                out[f'model.teachers.{name}.checkpoint'] = None
    return out


def build_for_cost(config: str, cfg_options: Optional[dict] = None):
    """``(cfg, model, options, random_teachers)`` of a config for cost analysis: missing teacher checkpoints are
    replaced by random weights (``random_teachers`` holds those overrides, ``options`` includes them)."""
    from jdbench.benchmark.config_utils import build_model, load_model_config
    cfg = load_model_config(config, cfg_options)
    random_teachers = missing_teacher_options(cfg)
    if random_teachers:
        cfg_options = {**(cfg_options or {}), **random_teachers}
        cfg = load_model_config(config, cfg_options)
    return cfg, build_model(cfg), cfg_options, random_teachers


def analyze_config(config: str,
                   checkpoint: Optional[str] = None,
                   cfg_options: Optional[dict] = None,
                   input_size: Optional[Tuple[int, int]] = None,
                   batch_size: int = 1,
                   warmup: int = 5,
                   repeats: int = 20,
                   device: str = 'cpu',
                   flops: bool = True,
                   latency: bool = True,
                   train: bool = True,
                   train_iters: int = 3,
                   train_batch_size: Optional[int] = None,
                   train_timeout: float = 600.0,
                   train_warmup: int = 3) -> dict:
    """The full cost record (``cost.json``) of a config: parameters, FLOPs, latency, training step.

    Parameters, FLOPs and latency are measured here; the training step in a child process. A failing part is
    recorded as ``{'error': ...}`` and the others still reported.
    """
    from jdbench.benchmark.config_utils import default_input_size, load_weights
    cfg, model, cfg_options, random_teachers = build_for_cost(config, cfg_options)
    size = tuple(input_size) if input_size else default_input_size(cfg)
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
            f'teacher checkpoint(s) missing ({", ".join(k.split(".")[2] for k in random_teachers)}): '
            'random teacher weights; costs do not depend on the weights')
    record['params'] = dict(
        **count_parameters(model),
        deployed=count_parameters(deployed)['total'],
        components=parameter_breakdown(model))
    if flops:
        try:
            record['flops'] = dict(
                total=count_flops(deployed, (3, *size)), input_shape=[1, 3, *size], counter=FLOPS_COUNTER)
        except Exception as err:  # noqa: BLE001  (tracing can fail on exotic ops: report, keep going)
            record['flops'] = dict(total=None, error=f'{type(err).__name__}: {err}')
    if latency:
        record['latency'] = measure_latency(deployed, (3, *size), batch_size, warmup, repeats, device)
    if train:
        try:
            record['train'] = measure_train_in_child(config, cfg_options, train_batch_size, size, train_iters,
                                                     train_warmup, device, train_timeout)
        except (RuntimeError, subprocess.TimeoutExpired) as err:
            record['train'] = dict(error=str(err).splitlines()[0], detail=str(err))
    return record
