"""Training curves: losses, loss weights ω and validation metrics over iterations (``TrainingPlotHook``).

Figures are drawn on an Agg canvas (no pyplot, no display) and saved at exactly ``figsize × dpi`` pixels.
"""
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Tuple

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from jdbench.utils.scalars import is_val_record, series

DEFAULT_FIGSIZE: Tuple[float, float] = (8.0, 5.0)
DEFAULT_DPI = 100


def new_figure(figsize: Tuple[float, float] = DEFAULT_FIGSIZE, dpi: int = DEFAULT_DPI) -> Figure:
    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str) -> str:
    """Save as PNG at the figure's exact pixel size."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=fig.dpi, format='png')
    return path


def loss_keys(records: Sequence[dict]) -> List[str]:
    """Training loss scalars (``loss`` first, then the ``<objective>.<term>`` losses), in first-seen order."""
    keys: Dict[str, None] = {}
    for rec in records:
        if is_val_record(rec):
            continue
        for k, v in rec.items():
            if isinstance(v, (int, float)) and re.search(r'(^|\.)loss', k):
                keys.setdefault(k)
    return sorted(keys, key=lambda k: (k != 'loss', list(keys).index(k)))


def weight_keys(records: Sequence[dict]) -> List[str]:
    """Loss-weight scalars ``w.<objective>`` logged by the weighting strategies / the feedback hook."""
    keys: Dict[str, None] = {}
    for rec in records:
        for k, v in rec.items():
            if k.startswith('w.') and isinstance(v, (int, float)):
                keys.setdefault(k)
    return list(keys)


def plot_training_curves(records: Sequence[dict],
                         path: str,
                         figsize: Tuple[float, float] = DEFAULT_FIGSIZE,
                         dpi: int = DEFAULT_DPI) -> Optional[str]:
    """Total loss (left) and each loss term (right, log scale) over iterations; None if nothing was logged."""
    keys = loss_keys(records)
    if not keys:
        return None
    fig = new_figure(figsize, dpi)
    ax_total, ax_terms = fig.subplots(1, 2)
    total = 'loss' if 'loss' in keys else keys[0]
    ax_total.plot(*series(records, total), color='black')
    ax_total.set(title=f'{total} (total)', xlabel='iteration', ylabel='loss')
    terms = [k for k in keys if k != total]
    for k in terms:
        steps, vals = series(records, k)
        ax_terms.plot(steps, vals, label=k)
    if terms:
        if all(v > 0 for k in terms for v in series(records, k)[1]):
            ax_terms.set_yscale('log')
        ax_terms.legend(fontsize='small')
    ax_terms.set(title='loss terms', xlabel='iteration')
    fig.tight_layout()
    return save_figure(fig, path)


def plot_weights(records: Sequence[dict],
                 path: str,
                 figsize: Tuple[float, float] = DEFAULT_FIGSIZE,
                 dpi: int = DEFAULT_DPI) -> Optional[str]:
    """The loss weights ω (``w.<objective>``) over iterations; None if none were logged."""
    keys = weight_keys(records)
    if not keys:
        return None
    fig = new_figure(figsize, dpi)
    ax = fig.subplots()
    for k in keys:
        ax.plot(*series(records, k), label=k[2:])
    ax.set(title='loss weights ω', xlabel='iteration', ylabel='ω')
    ax.legend(fontsize='small')
    fig.tight_layout()
    return save_figure(fig, path)


def plot_val_metrics(records: Sequence[dict],
                     path: str,
                     keys: Sequence[str] = ('mIoU', 'abs_err', 'delta_m'),
                     figsize: Tuple[float, float] = DEFAULT_FIGSIZE,
                     dpi: int = DEFAULT_DPI) -> Optional[str]:
    """Validation metrics over iterations, one panel each; None when there was no validation."""
    vals = [r for r in records if is_val_record(r)]
    keys = [k for k in keys if series(vals, k)[0]]
    if not keys:
        return None
    fig = new_figure(figsize, dpi)
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    for ax, k in zip(axes, keys):
        ax.plot(*series(vals, k), marker='o')
        ax.set(title=k, xlabel='iteration')
    fig.tight_layout()
    return save_figure(fig, path)


def omega_records(history) -> List[dict]:
    """``omega_history.json`` as scalar records with ``step`` and ``w.<objective>`` keys.

    Accepted forms: a list of ``{iter|step, <objective>: ω}`` or ``{iter|step, omega: {...}}`` records, or
    ``{objective: [ω, ...]}``.
    """
    out: List[dict] = []
    if isinstance(history, dict) and all(isinstance(v, list) for v in history.values()):
        n = max((len(v) for v in history.values()), default=0)
        for i in range(n):
            out.append({'step': i, **{f'w.{k}': float(v[i]) for k, v in history.items() if i < len(v)}})
        return out
    for i, rec in enumerate(history if isinstance(history, list) else []):
        if not isinstance(rec, dict):
            continue
        step = rec.get('iter', rec.get('step', i))
        weights = rec.get('omega', rec.get('weights', rec))
        if isinstance(weights, dict):
            out.append({
                'step': step,
                **{
                    f'w.{k}': float(v)
                    for k, v in weights.items() if k not in ('iter', 'step') and isinstance(v, (int, float))
                }
            })
    return out
