"""Pure evaluation helpers: segmentation confusion matrices, depth error statistics and Δm.

Everything here is stateless and framework-free (numpy / torch only), so the leaderboard tools can reuse it
without building a metric.

Conventions
-----------
* Segmentation: a confusion matrix ``cm[gt, pred]`` (``int64``, ``C×C``) is accumulated over the dataset;
  scores are fractions in ``[0, 1]`` here (:class:`JointMetric` reports them as percentages). A class whose
  union is empty (absent from both ground truth and predictions) has IoU ``nan`` and is skipped by the mean,
  exactly as in mmseg's ``IoUMetric``.
* Depth: a pixel is valid when ``min < gt < max`` (strict, as in Monodepth2 and mmseg's ``DepthMetric``);
  ``min`` must be ``>= 0`` so that ``gt == 0`` (the "no depth" marker) is always invalid. Per image, only the
  sufficient statistics of :data:`DEPTH_STAT_FIELDS` are kept, from which both pixel-pooled and
  per-image-averaged metrics are exact.
* Δm (Maninis et al. 2019): ``100 / T · Σ_i s_i (M_i − B_i) / B_i`` with ``s_i = +1`` for higher-is-better and
  ``−1`` for lower-is-better metrics (:data:`METRIC_DIRECTIONS`), ``T`` the number of reference metrics.
"""
import math
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

ArrayLike = Union[torch.Tensor, np.ndarray]

#: Sign of "better" for every metric Δm knows: ``+1`` higher is better, ``-1`` lower is better.
METRIC_DIRECTIONS: Dict[str, int] = {
    'mIoU': 1,
    'pixel_acc': 1,
    'd1': 1,
    'd2': 1,
    'd3': 1,
    'abs_err': -1,
    'rel_err': -1,
    'abs_rel': -1,
    'sq_rel': -1,
    'rmse': -1,
    'rmse_log': -1,
}

#: Metrics produced by the segmentation and depth parts of the evaluation.
SEG_METRICS: Tuple[str, ...] = ('mIoU', 'pixel_acc')
DEPTH_METRICS: Tuple[str, ...] = (
    'abs_err', 'rel_err', 'abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'd1', 'd2', 'd3')

#: Order of the per-image depth sufficient statistics returned by :func:`depth_error_stats`.
DEPTH_STAT_FIELDS: Tuple[str, ...] = (
    'num_valid',  # number of valid pixels
    'sum_abs',  # Σ |d̂ − d|
    'sum_rel',  # Σ |d̂ − d| / d
    'sum_sq_rel',  # Σ (d̂ − d)² / d
    'sum_sq',  # Σ (d̂ − d)²
    'sum_sq_log',  # Σ (log d̂ − log d)²
    'num_d1',  # #{max(d̂/d, d/d̂) < 1.25}
    'num_d2',  # #{... < 1.25²}
    'num_d3',  # #{... < 1.25³}
)

DEPTH_AVERAGES: Tuple[str, ...] = ('pixel', 'image')

#: Named depth-evaluation crops: only ground truth inside ``rows × cols`` of an image of ``size`` (H, W)
#: counts. ``'eigen_nyu'``: the NYUv2 crop of Eigen et al. (2014), rows 45:471 and columns 41:601 of the
#: 480×640 image.
DEPTH_CROPS: Dict[str, dict] = {'eigen_nyu': dict(size=(480, 640), rows=(45, 471), cols=(41, 601))}


def _as_tensor(x: ArrayLike) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))


def _check_pair(pred: torch.Tensor, gt: torch.Tensor, what: str) -> Tuple[torch.Tensor, torch.Tensor]:
    """Squeeze singleton dims (``1×H×W`` → ``H×W``) and check shapes agree and predictions are finite."""
    p, g = pred.squeeze(), gt.squeeze()
    if p.shape != g.shape:
        raise ValueError(f'{what}: prediction shape {tuple(pred.shape)} does not match ground-truth shape '
                         f'{tuple(gt.shape)}; predictions must be at the ground-truth (original) size')
    if p.is_floating_point() and not bool(torch.isfinite(p).all()):
        raise ValueError(f'{what}: prediction contains NaN or Inf values')
    return p, g


# --------------------------------------------------------------------------------------------- segmentation
def seg_confusion_matrix(pred: ArrayLike,
                         gt: ArrayLike,
                         num_classes: int,
                         ignore_index: int = 255) -> np.ndarray:
    """Confusion matrix ``cm[gt, pred]`` (``int64``, ``C×C``) of one label map, ignoring ``ignore_index``.

    Raises:
        ValueError: on a shape mismatch, non-finite predictions, or a class index outside ``[0, C)``
            (ground-truth values other than ``ignore_index`` included).
    """
    pred_t, gt_t = _check_pair(_as_tensor(pred), _as_tensor(gt), 'segmentation')
    pred_t, gt_t = pred_t.long().flatten(), gt_t.long().flatten()
    valid = gt_t != ignore_index
    pred_t, gt_t = pred_t[valid], gt_t[valid]
    if gt_t.numel() > 0:
        for name, t in (('prediction', pred_t), ('ground truth', gt_t)):
            lo, hi = int(t.min()), int(t.max())
            if lo < 0 or hi >= num_classes:
                raise ValueError(f'segmentation: {name} has class index {lo if lo < 0 else hi} outside '
                                 f'[0, {num_classes}) (ignore_index={ignore_index})')
    cm = torch.bincount(gt_t * num_classes + pred_t, minlength=num_classes * num_classes)
    return cm.reshape(num_classes, num_classes).cpu().numpy().astype(np.int64)


def seg_scores(confusion: np.ndarray,
               nan_to_num: Optional[float] = None) -> Dict[str, Union[float, np.ndarray]]:
    """Scores (fractions) from a dataset-level confusion matrix ``cm[gt, pred]``.

    Returns:
        dict: ``iou`` and ``acc`` (per-class arrays, ``nan`` where undefined), ``mIoU`` (nan-mean of
        ``iou``) and ``pixel_acc`` (correct / labelled pixels), like mmseg ``IoUMetric``'s ``IoU``, ``Acc``,
        ``mIoU`` and ``aAcc``.
        ``nan_to_num`` replaces undefined per-class values before the mean, as in mmseg.
    """
    cm = np.asarray(confusion, dtype=np.float64)
    inter = np.diag(cm)
    area_gt, area_pred = cm.sum(axis=1), cm.sum(axis=0)
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = inter / (area_gt + area_pred - inter)
        acc = inter / area_gt
        pixel_acc = inter.sum() / cm.sum()
    if nan_to_num is not None:
        iou, acc = np.nan_to_num(iou, nan=nan_to_num), np.nan_to_num(acc, nan=nan_to_num)
        pixel_acc = np.nan_to_num(pixel_acc, nan=nan_to_num)
    miou = float(np.nanmean(iou)) if not np.all(np.isnan(iou)) else math.nan
    return dict(iou=iou, acc=acc, mIoU=miou, pixel_acc=float(pixel_acc))


# -------------------------------------------------------------------------------------------------- depth
def check_depth_range(depth_range: Sequence[float]) -> Tuple[float, float]:
    """Validate ``(min, max)``: ``0 <= min < max`` (``max`` may be ``inf``)."""
    if len(depth_range) != 2:
        raise ValueError(f'depth_range must be (min, max), got {depth_range!r}')
    lo, hi = float(depth_range[0]), float(depth_range[1])
    if not (0 <= lo < hi):
        raise ValueError(f'depth_range must satisfy 0 <= min < max, got {depth_range!r}')
    return lo, hi


def describe_depth_crop(crop: Optional[str]) -> str:
    """``'none'`` or e.g. ``"'eigen_nyu' (rows 45:471, cols 41:601 of 480x640)"``, for logs."""
    if crop is None:
        return 'none'
    if crop not in DEPTH_CROPS:
        raise ValueError(f'unknown depth crop {crop!r}; choose None or one of {sorted(DEPTH_CROPS)}')
    c = DEPTH_CROPS[crop]
    return (f"'{crop}' (rows {c['rows'][0]}:{c['rows'][1]}, cols {c['cols'][0]}:{c['cols'][1]} of "
            f"{c['size'][0]}x{c['size'][1]})")


def depth_crop_mask(shape: Sequence[int], crop: str) -> torch.Tensor:
    """Boolean ``H×W`` mask of the named crop (:data:`DEPTH_CROPS`) for ground truth of ``shape`` (H, W).

    Raises:
        ValueError: on an unknown crop, or ground truth of another size than the crop's (the crop is defined
            in pixels of that size; evaluate at the original resolution).
    """
    describe_depth_crop(crop)
    c = DEPTH_CROPS[crop]
    if tuple(shape) != tuple(c['size']):
        raise ValueError(f"depth crop {crop!r} is defined on {c['size'][0]}x{c['size'][1]} ground truth, got "
                         f'{tuple(shape)}; evaluate at the original resolution or set depth_crop=None')
    mask = torch.zeros(tuple(shape), dtype=torch.bool)
    mask[c['rows'][0]:c['rows'][1], c['cols'][0]:c['cols'][1]] = True
    return mask


def depth_error_stats(pred: ArrayLike,
                      gt: ArrayLike,
                      depth_range: Sequence[float] = (1e-3, 80.0),
                      clamp_pred: bool = True,
                      crop: Optional[str] = None) -> np.ndarray:
    """Sufficient statistics (:data:`DEPTH_STAT_FIELDS`, ``float64``) of one depth map.

    Valid pixels: ``min < gt < max``, and inside the named ``crop`` (:data:`DEPTH_CROPS`) when one is given.
    With ``clamp_pred`` the prediction is clamped to ``[min, max]`` first.
    A non-positive prediction (only possible without clamping, or with ``min == 0``) fails every δ threshold
    and makes the log error infinite.

    Raises:
        ValueError: on a shape mismatch, non-finite predictions, or ground truth of another size than
            ``crop``'s.
    """
    lo, hi = check_depth_range(depth_range)
    pred_t, gt_t = _check_pair(_as_tensor(pred), _as_tensor(gt), 'depth')
    gt_t = gt_t.double()
    valid = (gt_t > lo) & (gt_t < hi)
    if crop is not None:
        valid &= depth_crop_mask(gt_t.shape, crop).to(valid.device)
    d, p = gt_t[valid], pred_t.double()[valid]
    if clamp_pred:
        p = p.clamp(lo, hi)
    diff = p - d
    abs_diff, sq = diff.abs(), diff * diff
    positive = p > 0
    safe_p = torch.where(positive, p, torch.ones_like(p))
    ratio = torch.where(positive, torch.maximum(safe_p / d, d / safe_p), torch.full_like(p, math.inf))
    sq_log = torch.where(positive, (safe_p.log() - d.log())**2, torch.full_like(p, math.inf))
    stats = torch.stack([
        torch.tensor(float(d.numel()), dtype=torch.float64, device=d.device),
        abs_diff.sum(),
        (abs_diff / d).sum(),
        (sq / d).sum(),
        sq.sum(),
        sq_log.sum(),
        (ratio < 1.25).sum().double(),
        (ratio < 1.25**2).sum().double(),
        (ratio < 1.25**3).sum().double(),
    ])
    return stats.cpu().numpy()


def _metrics_from_sums(s: np.ndarray) -> Dict[str, float]:
    """Depth metrics from (pooled or single-image) sums; ``nan`` if there is no valid pixel."""
    n = s[..., 0]
    with np.errstate(divide='ignore', invalid='ignore'):
        mean = {f: s[..., i] / n for i, f in enumerate(DEPTH_STAT_FIELDS) if i > 0}
    return dict(
        abs_err=mean['sum_abs'],
        rel_err=mean['sum_rel'],
        abs_rel=mean['sum_rel'],
        sq_rel=mean['sum_sq_rel'],
        rmse=np.sqrt(mean['sum_sq']),
        rmse_log=np.sqrt(mean['sum_sq_log']),
        d1=mean['num_d1'],
        d2=mean['num_d2'],
        d3=mean['num_d3'],
    )


def depth_metrics_from_stats(stats: ArrayLike, average: str = 'pixel') -> Dict[str, float]:
    """Final depth metrics from per-image statistics (``N×K`` or ``K``, :data:`DEPTH_STAT_FIELDS` order).

    Args:
        stats: per-image sufficient statistics.
        average: ``'pixel'``: every metric over all valid pixels of the dataset pooled (rmse = sqrt of the
            pooled mean square); ``'image'``: metric per image, then the mean over images that have at least
            one valid pixel (mmseg ``DepthMetric`` / Eigen protocol).

    Returns:
        dict with :data:`DEPTH_METRICS` (errors in the depth unit, δ as fractions in ``[0, 1]``); ``nan`` when
        no pixel is valid.
    """
    if average not in DEPTH_AVERAGES:
        raise ValueError(f"depth average must be one of {DEPTH_AVERAGES}, got {average!r}")
    s = np.asarray(stats, dtype=np.float64).reshape(-1, len(DEPTH_STAT_FIELDS))
    if average == 'pixel':
        per = _metrics_from_sums(s.sum(axis=0))
        return {k: float(per[k]) for k in DEPTH_METRICS}
    s = s[s[:, 0] > 0]
    if len(s) == 0:
        return {k: math.nan for k in DEPTH_METRICS}
    per = _metrics_from_sums(s)
    return {k: float(np.mean(per[k])) for k in DEPTH_METRICS}


# ----------------------------------------------------------------------------------------------------- Δm
def check_reference(reference: Mapping[str, float]) -> Dict[str, float]:
    """Validate a Δm reference: known metric names (:data:`METRIC_DIRECTIONS`) and finite non-zero values."""
    if not reference:
        raise ValueError('the Δm reference is empty')
    unknown = [k for k in reference if k not in METRIC_DIRECTIONS]
    if unknown:
        raise ValueError(f'unknown metric(s) {unknown} in the Δm reference; known metrics: '
                         f'{sorted(METRIC_DIRECTIONS)} (see jdbench.evaluation.functional.METRIC_DIRECTIONS)')
    ref = {}
    for k, v in reference.items():
        v = float(v)
        if not math.isfinite(v) or v == 0:
            raise ValueError(f'Δm reference value for {k!r} must be finite and non-zero, got {v}')
        ref[k] = v
    return ref


def relative_gains(metrics: Mapping[str, float], reference: Mapping[str, float]) -> Dict[str, float]:
    """Signed relative gain in percent per reference metric, ``100 · s_i (M_i − B_i) / B_i`` (> 0 = better).

    Raises:
        ValueError: if a reference metric is unknown, zero, or missing from ``metrics``.
    """
    ref = check_reference(reference)
    missing = [k for k in ref if k not in metrics]
    if missing:
        raise ValueError(f'Δm reference metric(s) {missing} missing from the computed metrics '
                         f'(available: {sorted(metrics)})')
    return {k: 100.0 * METRIC_DIRECTIONS[k] * (float(metrics[k]) - b) / b for k, b in ref.items()}


def delta_m(metrics: Mapping[str, float], reference: Mapping[str, float]) -> float:
    """Multi-task performance Δm in percent (Maninis et al. 2019), over the metrics named in ``reference``.

    ``Δm = 100 / T · Σ_i (−1)^{l_i} (M_i − B_i) / B_i``, ``l_i = 1`` for lower-is-better metrics, ``T =
    len(reference)``. Positive means better than the (single-task) reference.

    Example:
        >>> # +10 % mIoU and -10 % depth error
        >>> round(delta_m(dict(mIoU=55.0, abs_err=0.9), dict(mIoU=50.0, abs_err=1.0)), 6)
        10.0
    """
    gains = relative_gains(metrics, reference)
    return sum(gains.values()) / len(gains)
