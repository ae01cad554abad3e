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
* Depth protocols (:data:`DEPTH_PROTOCOLS`): named option sets, e.g. ``'kitti_eigen'`` = Monodepth2's
  ``evaluate_depth.py`` on the Eigen split: ``1e-3 < gt < 80``, the Garg crop, per-image median scaling
  ``median(gt) / median(pred)`` over the valid pixels before clamping the prediction to ``[1e-3, 80]``, and
  per-image averaging.
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

#: Named depth-evaluation crops: only ground truth inside ``rows × cols`` counts.
#:
#: * ``size=(H, W)``: ``rows`` / ``cols`` are pixel bounds ``[start, stop)`` of ground truth of exactly that
#:   size. ``'eigen_nyu'``: the NYUv2 crop of Eigen et al. (2014), rows 45:471 and columns 41:601 of 480×640.
#: * ``size=None``: ``rows`` / ``cols`` are fractions of the ground truth's ``H`` / ``W``, for any size; a
#:   bound is ``int(fraction · H)`` (truncated, as Monodepth2's ``astype(np.int32)``).
#:   ``'garg_kitti'``: the crop of Garg et al. (2016), rows ``[0.40810811 H, 0.99189189 H)`` and columns
#:   ``[0.03594771 W, 0.96405229 W)`` (Monodepth2's Eigen-split evaluation); ``'eigen_kitti'``: the crop of
#:   Eigen et al. (2014), rows ``[0.3324324 H, 0.91351351 H)`` and columns ``[0.0359477 W, 0.96405229 W)``.
DEPTH_CROPS: Dict[str, dict] = {
    'eigen_nyu': dict(size=(480, 640), rows=(45, 471), cols=(41, 601)),
    'garg_kitti': dict(size=None, rows=(0.40810811, 0.99189189), cols=(0.03594771, 0.96405229)),
    'eigen_kitti': dict(size=None, rows=(0.3324324, 0.91351351), cols=(0.0359477, 0.96405229)),
}

#: How a depth prediction is scaled before scoring: None (as predicted), ``'median'`` (per image,
#: ``median(gt) / median(pred)`` over the valid pixels: monocular models, whose scale is unknown), or a fixed
#: positive factor (e.g. ``5.4`` for Monodepth2's stereo models, trained with a 0.1 baseline for KITTI's
#: 0.54 m).
DEPTH_SCALINGS: Tuple[str, ...] = ('median', )

#: Monodepth2's stereo scale factor: KITTI's 0.54 m baseline over the nominal 0.1 used in training.
STEREO_SCALE_FACTOR = 5.4

#: Named depth-evaluation protocols: each sets every depth option of :class:`~jdbench.evaluation.JointMetric`
#: (``depth_range``: valid ``min < gt < max``, ``max`` = the depth cap; ``clamp_pred``: True = clamp the
#: prediction to ``depth_range``, or an explicit ``(min, max)``; ``depth_crop``; ``depth_scaling``;
#: ``depth_average``). All follow Monodepth2's ``evaluate_depth.py``:
#:
#: * ``'kitti_eigen'``: monocular models on the Eigen split (velodyne ground truth): ``1e-3 < gt < 80``, Garg
#:   crop, per-image median scaling, prediction clamped to ``[1e-3, 80]``, per-image averaging.
#: * ``'kitti_eigen_stereo'``: the same with the fixed stereo scale ×5.4 instead of median scaling.
#: * ``'kitti_eigen_benchmark'``: the improved (annotated) ground truth of the Eigen benchmark split: every
#:   ``gt > 0`` counts (no cap on the ground truth, no crop), median scaling, prediction clamped to
#:   ``[1e-3, 80]``, per-image averaging.
DEPTH_PROTOCOLS: Dict[str, dict] = {
    'kitti_eigen':
    dict(depth_range=(1e-3, 80.0), clamp_pred=True, depth_crop='garg_kitti', depth_scaling='median',
         depth_average='image'),
    'kitti_eigen_stereo':
    dict(depth_range=(1e-3, 80.0), clamp_pred=True, depth_crop='garg_kitti',
         depth_scaling=STEREO_SCALE_FACTOR, depth_average='image'),
    'kitti_eigen_benchmark':
    dict(depth_range=(0.0, math.inf), clamp_pred=(1e-3, 80.0), depth_crop=None, depth_scaling='median',
         depth_average='image'),
}


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


def _check_crop(crop: str) -> dict:
    if crop not in DEPTH_CROPS:
        raise ValueError(f'unknown depth crop {crop!r}; choose None or one of {sorted(DEPTH_CROPS)}')
    return DEPTH_CROPS[crop]


def describe_depth_crop(crop: Optional[str]) -> str:
    """``'none'`` or e.g. ``"'eigen_nyu' (rows 45:471, cols 41:601 of 480x640)"``, for logs."""
    if crop is None:
        return 'none'
    c = _check_crop(crop)
    if c['size'] is None:
        return (f"'{crop}' (rows [{c['rows'][0]}H, {c['rows'][1]}H), cols [{c['cols'][0]}W, {c['cols'][1]}W) "
                'of HxW ground truth, bounds truncated to integers)')
    return (f"'{crop}' (rows {c['rows'][0]}:{c['rows'][1]}, cols {c['cols'][0]}:{c['cols'][1]} of "
            f"{c['size'][0]}x{c['size'][1]})")


def depth_crop_bounds(shape: Sequence[int], crop: str) -> Tuple[int, int, int, int]:
    """Pixel bounds ``(row_start, row_stop, col_start, col_stop)`` of the named crop on ``shape`` (H, W).

    Raises:
        ValueError: on an unknown crop, or ground truth of another size than a fixed-size crop's (it is
            defined in pixels of that size; evaluate at the original resolution).
    """
    c = _check_crop(crop)
    h, w = (int(v) for v in shape)
    if c['size'] is None:
        return int(c['rows'][0] * h), int(c['rows'][1] * h), int(c['cols'][0] * w), int(c['cols'][1] * w)
    if (h, w) != tuple(c['size']):
        raise ValueError(f"depth crop {crop!r} is defined on {c['size'][0]}x{c['size'][1]} ground truth, got "
                         f'{tuple(shape)}; evaluate at the original resolution or set depth_crop=None')
    return c['rows'][0], c['rows'][1], c['cols'][0], c['cols'][1]


def depth_crop_mask(shape: Sequence[int], crop: str) -> torch.Tensor:
    """Boolean ``H×W`` mask of the named crop (:data:`DEPTH_CROPS`) for ground truth of ``shape`` (H, W).

    Raises:
        ValueError: as :func:`depth_crop_bounds`.
    """
    r0, r1, c0, c1 = depth_crop_bounds(shape, crop)
    mask = torch.zeros(tuple(shape), dtype=torch.bool)
    mask[r0:r1, c0:c1] = True
    return mask


def check_depth_scaling(scaling: Union[None, str, float]) -> Union[None, str, float]:
    """Validate a depth scaling (:data:`DEPTH_SCALINGS`): None, ``'median'`` or a finite factor ``> 0``."""
    if scaling is None or scaling in DEPTH_SCALINGS:
        return scaling
    if isinstance(scaling, (int, float)) and not isinstance(scaling, bool):
        if math.isfinite(scaling) and scaling > 0:
            return float(scaling)
    raise ValueError(f"depth_scaling must be None, 'median' (per-image median scaling, monocular models) or "
                     f'a fixed factor > 0 (e.g. {STEREO_SCALE_FACTOR} for stereo models), got {scaling!r}')


def check_clamp(clamp_pred: Union[bool, Sequence[float]],
                depth_range: Sequence[float]) -> Optional[Tuple[float, float]]:
    """The prediction clamp range: ``depth_range`` for True, None for False, or an explicit ``(min, max)``."""
    if isinstance(clamp_pred, bool):
        return check_depth_range(depth_range) if clamp_pred else None
    if isinstance(clamp_pred, (tuple, list)):
        return check_depth_range(clamp_pred)
    raise ValueError(f'clamp_pred must be True, False or a (min, max) range, got {clamp_pred!r}')


def depth_valid_mask(gt: ArrayLike,
                     depth_range: Sequence[float] = (1e-3, 80.0),
                     crop: Optional[str] = None) -> torch.Tensor:
    """Boolean mask of the valid ground truth (``H×W`` or ``1×H×W``, squeezed): ``min < gt < max`` ∧ crop."""
    lo, hi = check_depth_range(depth_range)
    gt_t = _as_tensor(gt).squeeze().double()  # compare in float64, whatever the ground truth's dtype
    valid = (gt_t > lo) & (gt_t < hi)
    if crop is not None:
        valid &= depth_crop_mask(gt_t.shape, crop).to(valid.device)
    return valid


def median_scale_ratio(pred: ArrayLike,
                       gt: ArrayLike,
                       depth_range: Sequence[float] = (1e-3, 80.0),
                       crop: Optional[str] = None) -> float:
    """Monodepth2's per-image scale ``median(gt) / median(pred)`` over the valid pixels (numpy median).

    Returns ``nan`` when no pixel is valid.

    Raises:
        ValueError: on a shape mismatch, non-finite predictions, or a non-positive median prediction (median
            scaling needs depths, not disparities or log-depths).
    """
    pred_t, gt_t = _check_pair(_as_tensor(pred), _as_tensor(gt), 'depth')
    valid = depth_valid_mask(gt_t, depth_range, crop)
    if not bool(valid.any()):
        return math.nan
    med_gt = float(np.median(gt_t[valid].double().cpu().numpy()))
    med_pred = float(np.median(pred_t[valid].double().cpu().numpy()))
    if not med_pred > 0:
        raise ValueError(f'median depth scaling: the median prediction over the valid pixels is {med_pred}; '
                         'it must be > 0 (pass depths in metres, not disparities or log-depths)')
    return med_gt / med_pred


def scale_ratio_stats(ratios: ArrayLike) -> Dict[str, float]:
    """The spread of per-image median-scaling ratios, as Monodepth2 prints it.

    Returns:
        dict: ``med`` (median of the ratios) and ``std`` (population std of ``ratios / med``, a relative
        spread, Monodepth2's "Scaling ratios | med | std"), ``raw_std`` (std of the ratios), ``min``, ``max``
        and ``num``, over the finite ratios (images without a valid pixel have none); ``nan`` when none.
    """
    r = np.asarray(ratios, dtype=np.float64).reshape(-1)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return dict(med=math.nan, std=math.nan, raw_std=math.nan, min=math.nan, max=math.nan, num=0)
    med = float(np.median(r))
    return dict(med=med, std=float(np.std(r / med)), raw_std=float(np.std(r)), min=float(r.min()),
                max=float(r.max()), num=int(r.size))


def depth_error_stats(pred: ArrayLike,
                      gt: ArrayLike,
                      depth_range: Sequence[float] = (1e-3, 80.0),
                      clamp_pred: Union[bool, Sequence[float]] = True,
                      crop: Optional[str] = None,
                      scale: float = 1.0) -> np.ndarray:
    """Sufficient statistics (:data:`DEPTH_STAT_FIELDS`, ``float64``) of one depth map.

    Valid pixels: ``min < gt < max``, and inside the named ``crop`` (:data:`DEPTH_CROPS`) when one is given.
    The valid predictions are multiplied by ``scale`` (a fixed factor, or :func:`median_scale_ratio`), then
    clamped: to ``depth_range`` when ``clamp_pred`` is True, to ``clamp_pred`` when it is a ``(min, max)``
    range, not at all when False (Monodepth2's order: mask, scale, clamp).
    A non-positive prediction (only possible without clamping, or with ``min == 0``) fails every δ threshold
    and makes the log error infinite.

    Raises:
        ValueError: on a shape mismatch, non-finite predictions, a non-positive or non-finite ``scale``, or
            ground truth of another size than a fixed-size ``crop``'s.
    """
    clamp = check_clamp(clamp_pred, depth_range)
    scale = float(scale)
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f'depth scale must be finite and > 0, got {scale}')
    pred_t, gt_t = _check_pair(_as_tensor(pred), _as_tensor(gt), 'depth')
    gt_t = gt_t.double()
    valid = depth_valid_mask(gt_t, depth_range, crop)
    d, p = gt_t[valid], pred_t.double()[valid]
    if scale != 1.0:
        p = p * scale
    if clamp is not None:
        p = p.clamp(*clamp)
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
