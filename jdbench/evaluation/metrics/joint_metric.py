"""JointMetric: segmentation scores, depth errors and Δm in one evaluation pass."""
import logging
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from prettytable import PrettyTable

from jdbench.registry import METRICS
from ..functional import (DEPTH_AVERAGES, DEPTH_METRICS, DEPTH_PROTOCOLS, METRIC_DIRECTIONS, SEG_METRICS,
                          check_clamp, check_depth_range, check_depth_scaling, check_reference, delta_m,
                          depth_error_stats, depth_metrics_from_stats, describe_depth_crop,
                          median_scale_ratio, relative_gains, scale_ratio_stats, seg_confusion_matrix,
                          seg_scores)

#: The depth options a protocol sets, and their values when neither the argument nor a protocol sets them.
DEPTH_OPTION_DEFAULTS: Dict[str, Any] = dict(
    depth_range=(1e-3, 80.0), clamp_pred=True, depth_crop=None, depth_scaling=None, depth_average='pixel')


def resolve_depth_protocol(protocol: Union[None, str, Mapping[str, Any]],
                           explicit: Mapping[str, Any]) -> tuple:
    """``(name or None, options)``: the depth options of a protocol (name or dict), or the explicit ones.

    ``explicit`` holds the depth arguments actually passed (not None). With a protocol they must be empty:
    a protocol sets every depth option, so that its name always means the same evaluation.
    """
    if protocol is None:
        return None, {**DEPTH_OPTION_DEFAULTS, **explicit}
    if explicit:
        raise ValueError(f'JointMetric: protocol={protocol!r} sets the depth options, so {sorted(explicit)} '
                         'must be left unset; to change one, give a named dict instead, e.g. '
                         "protocol=dict(name='my_protocol', base='kitti_eigen', depth_crop='eigen_kitti')")
    if isinstance(protocol, str):
        if protocol not in DEPTH_PROTOCOLS:
            raise ValueError(f'unknown depth protocol {protocol!r}; choose one of {sorted(DEPTH_PROTOCOLS)} '
                             'or a dict(name=..., base=..., <depth options>)')
        return protocol, {**DEPTH_OPTION_DEFAULTS, **DEPTH_PROTOCOLS[protocol]}
    if not isinstance(protocol, Mapping):
        raise ValueError(f'protocol must be None, a name or a dict, got {type(protocol).__name__}')
    spec = dict(protocol)
    name, base = spec.pop('name', None), spec.pop('base', None)
    if not isinstance(name, str) or not re.fullmatch(r'[A-Za-z0-9_\-]+', name):
        raise ValueError(f"a protocol dict needs a 'name' of letters, digits, '_' or '-' (it becomes the "
                         f"output key 'depth_protocol.<name>'), got {name!r}")
    unknown = sorted(set(spec) - set(DEPTH_OPTION_DEFAULTS))
    if unknown:
        raise ValueError(f'unknown option(s) {unknown} in protocol {name!r}; a protocol dict takes name, '
                         f'base and {sorted(DEPTH_OPTION_DEFAULTS)}')
    if base is not None and base not in DEPTH_PROTOCOLS:
        raise ValueError(f'unknown base protocol {base!r} in protocol {name!r}; choose one of '
                         f'{sorted(DEPTH_PROTOCOLS)}')
    return name, {**DEPTH_OPTION_DEFAULTS, **(DEPTH_PROTOCOLS[base] if base else {}), **spec}


def _field(sample: Any, key: str) -> Optional[torch.Tensor]:
    """``sample[key]['data']`` for dict samples (as the Evaluator passes them) or ``sample.key.data``."""
    item = sample.get(key) if isinstance(sample, Mapping) else getattr(sample, key, None)
    if item is None:
        return None
    return item['data'] if isinstance(item, Mapping) else item.data


@METRICS.register_module()
class JointMetric(BaseMetric):
    """Joint semantic-segmentation + depth evaluation, with the multi-task Δm against single-task references.

    The tasks are inferred from the samples: segmentation is evaluated on samples that carry ``pred_sem_seg``,
    depth on samples that carry ``pred_depth_map`` (a prediction without its ground truth is skipped with a
    warning). ``self.results`` holds one small record per sample (a ``C×C`` confusion matrix and/or the 9
    depth sufficient statistics of :data:`~jdbench.evaluation.functional.DEPTH_STAT_FIELDS`), so distributed
    collection is cheap.

    Output keys (plain numbers; ``prefix`` is prepended by mmengine when set):

    * segmentation: ``mIoU``, ``pixel_acc`` (percent), and ``IoU.<class>`` if ``per_class``. Computed from the
      dataset-level confusion matrix; identical to mmseg ``IoUMetric``'s ``mIoU`` / ``aAcc`` (classes absent
      from both ground truth and predictions are ``nan`` and skipped by the mean; rounded to
      ``seg_decimals``).
      The per-class IoU / Acc table is always logged.
    * depth: ``abs_err``, ``rel_err`` (MTL convention: mean ``|d̂ − d|`` and ``|d̂ − d| / d``), ``abs_rel``,
      ``sq_rel``, ``rmse``, ``rmse_log``, ``d1``, ``d2``, ``d3`` (Eigen convention; δ as fractions in
      ``[0, 1]``). ``rel_err`` and ``abs_rel`` are the same quantity under the two conventions' names. The
      averaging (``depth_average``) is written in the log, not in the dict.
    * depth scaling (only when ``depth_scaling`` is set): ``scale_ratio_med`` and ``scale_ratio_std`` for
      ``'median'`` (the median of the per-image ratios and the std of ``ratio / median``, as Monodepth2 prints
      "Scaling ratios | med | std"), ``scale_factor`` for a fixed factor.
    * ``depth_protocol.<name>`` = 1.0 when a ``protocol`` is set, so that a leaderboard can tell which
      protocol produced the depth numbers; the log names the protocol and all its options.
    * ``delta_m`` (percent, positive = better than the reference) when ``reference`` is given, over the
      reference metrics whose task is present; the log lists that metric set and the directions.

    Depth-only models (no ``pred_sem_seg``) are scored like any other: only the depth keys come out.

    **KITTI protocol.** ``protocol='kitti_eigen'`` evaluates as Monodepth2's ``evaluate_depth.py`` does on
    the Eigen split:

    * valid ground truth is ``1e-3 < gt < 80`` (the 80 m cap) inside the Garg crop (``'garg_kitti'``: rows
      ``[0.40810811 H, 0.99189189 H)``, cols ``[0.03594771 W, 0.96405229 W)``);
    * per image, the prediction is multiplied by ``median(gt) / median(pred)`` over those pixels, then
      clamped to ``[1e-3, 80]``;
    * abs_rel, sq_rel, rmse, rmse_log and δ1–3 are computed per image and averaged over the images. An image
      without a valid pixel is skipped; Monodepth2 would give nan.

    ``'kitti_eigen_stereo'`` scales by ×5.4 instead of the median. ``'kitti_eigen_benchmark'`` scores every
    ``gt > 0`` of the annotated ground truth, with no crop. See
    :data:`~jdbench.evaluation.functional.DEPTH_PROTOCOLS`; each option can also be set alone.

    Args:
        num_classes (int, optional): Number of segmentation classes. Defaults to
            ``len(dataset_meta['classes'])``.
        ignore_index (int): Ground-truth label ignored by segmentation. Defaults to 255.
        per_class (bool): Also return ``IoU.<class>`` keys. Defaults to False (keeps the Runner's dict small).
        nan_to_num (float, optional): Value for undefined per-class scores before averaging (mmseg's option).
        seg_decimals (int, optional): Decimals of the segmentation percentages (mmseg rounds to 2); None keeps
            full precision. Defaults to 2.
        depth_range (tuple[float, float]): Valid ground truth ``min < gt < max`` (``max`` is the depth cap);
            ``0 <= min`` so ``gt == 0`` is always invalid. Defaults to ``(1e-3, 80.0)``; NYUv2 configs use
            ``(1e-3, 10.0)``.
        clamp_pred (bool | tuple[float, float]): Clamp depth predictions to ``depth_range`` (True), to an
            explicit ``(min, max)``, or not at all (False). Defaults to True.
        depth_crop (str, optional): Named evaluation crop of the ground truth
            (:data:`~jdbench.evaluation.functional.DEPTH_CROPS`): ``'eigen_nyu'`` (rows 45:471, cols 41:601 of
            480×640 NYUv2 ground truth), ``'garg_kitti'`` or ``'eigen_kitti'`` (fractions of any KITTI size);
            written in the log. Defaults to None (the whole image).
        depth_scaling (str | float, optional): ``'median'``: per image, multiply the prediction by
            ``median(gt) / median(pred)`` over the valid pixels, before clamping (monocular models); a number:
            a fixed factor (5.4 for Monodepth2's stereo models). Defaults to None (no scaling).
        depth_average (str): ``'pixel'``: pooled over all valid pixels of the dataset; ``'image'``: per image,
            then the mean over images with a valid pixel (mmseg ``DepthMetric`` / Eigen / Monodepth2).
            Defaults to ``'pixel'``.
        protocol (str | dict, optional): A named set of all the depth options above
            (:data:`~jdbench.evaluation.functional.DEPTH_PROTOCOLS`: ``'kitti_eigen'``,
            ``'kitti_eigen_stereo'``, ``'kitti_eigen_benchmark'``), or a dict ``dict(name=..., base=<a
            protocol name, optional>, <depth options>)`` naming a variant. The depth arguments must then be
            left unset. Its name is in the output (``depth_protocol.<name>``). Defaults to None.
        reference (dict, optional): Single-task reference values for Δm, e.g.
            ``dict(mIoU=..., pixel_acc=..., abs_err=..., rel_err=...)``; names from
            :data:`~jdbench.evaluation.functional.METRIC_DIRECTIONS`, in the units of the outputs above.
        collect_device (str): Device for collecting results across ranks. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the output keys.
        collect_dir (str, optional): Temporary directory for CPU collection.
    """

    def __init__(self,
                 num_classes: Optional[int] = None,
                 ignore_index: int = 255,
                 per_class: bool = False,
                 nan_to_num: Optional[float] = None,
                 seg_decimals: Optional[int] = 2,
                 depth_range: Optional[Sequence[float]] = None,
                 clamp_pred: Union[None, bool, Sequence[float]] = None,
                 depth_crop: Optional[str] = None,
                 depth_scaling: Union[None, str, float] = None,
                 depth_average: Optional[str] = None,
                 protocol: Union[None, str, Mapping[str, Any]] = None,
                 reference: Optional[Dict[str, float]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        if num_classes is not None and num_classes < 1:
            raise ValueError(f'num_classes must be positive, got {num_classes}')
        explicit = dict(depth_range=depth_range, clamp_pred=clamp_pred, depth_crop=depth_crop,
                        depth_scaling=depth_scaling, depth_average=depth_average)
        explicit = {k: v for k, v in explicit.items() if v is not None}
        self.protocol, opts = resolve_depth_protocol(protocol, explicit)
        if opts['depth_average'] not in DEPTH_AVERAGES:
            raise ValueError(f"depth_average must be one of {DEPTH_AVERAGES}, got {opts['depth_average']!r}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.per_class = per_class
        self.nan_to_num = nan_to_num
        self.seg_decimals = seg_decimals
        self.depth_range = check_depth_range(opts['depth_range'])
        self.clamp_pred = opts['clamp_pred']
        self._clamp = check_clamp(self.clamp_pred, self.depth_range)  # validates it
        describe_depth_crop(opts['depth_crop'])  # validates the name
        self.depth_crop = opts['depth_crop']
        self.depth_scaling = check_depth_scaling(opts['depth_scaling'])
        self.depth_average = opts['depth_average']
        self.reference = check_reference(reference) if reference is not None else None
        self._warned_missing_gt: set = set()

    # ------------------------------------------------------------------------------------------- helpers
    def _class_names(self) -> List[str]:
        classes = (self.dataset_meta or {}).get('classes')
        if self.num_classes is None:
            if classes is None:
                raise ValueError('JointMetric needs num_classes or dataset_meta["classes"] to evaluate '
                                 'segmentation')
            return [str(c) for c in classes]
        if classes is not None and len(classes) != self.num_classes:
            raise ValueError(f'num_classes={self.num_classes} disagrees with the {len(classes)} classes of '
                             'dataset_meta')
        return [str(c) for c in classes] if classes is not None else [str(i) for i in range(self.num_classes)]

    def _gt(self, sample: Any, key: str) -> Optional[torch.Tensor]:
        gt = _field(sample, key)
        if gt is None and key not in self._warned_missing_gt:
            self._warned_missing_gt.add(key)
            print_log(f'JointMetric: a sample has a prediction but no {key!r}; such samples are skipped '
                      'for that task', logger='current', level=logging.WARNING)
        return gt

    def _pct(self, x: float) -> float:
        x = float(x) * 100.0
        return float(np.round(x, self.seg_decimals)) if self.seg_decimals is not None else x

    # ------------------------------------------------------------------------------------- BaseMetric API
    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Append one record per sample: ``{'seg': C×C confusion matrix, 'depth': depth statistics}``."""
        for sample in data_samples:
            record: Dict[str, np.ndarray] = {}
            pred_seg = _field(sample, 'pred_sem_seg')
            if pred_seg is not None:
                gt_seg = self._gt(sample, 'gt_sem_seg')
                if gt_seg is not None:
                    record['seg'] = seg_confusion_matrix(pred_seg, gt_seg, len(self._class_names()),
                                                         self.ignore_index)
            pred_depth = _field(sample, 'pred_depth_map')
            if pred_depth is not None:
                gt_depth = self._gt(sample, 'gt_depth_map')
                if gt_depth is not None:
                    scale = 1.0
                    if self.depth_scaling == 'median':
                        ratio = median_scale_ratio(pred_depth, gt_depth, self.depth_range, self.depth_crop)
                        record['depth_scale'] = np.float64(ratio)  # nan: no valid pixel
                        scale = ratio if np.isfinite(ratio) else 1.0
                    elif self.depth_scaling is not None:
                        scale = self.depth_scaling
                    record['depth'] = depth_error_stats(pred_depth, gt_depth, self.depth_range,
                                                        self.clamp_pred, self.depth_crop, scale)
            # Exactly one record per sample: collect_results drops distributed padding by count.
            self.results.append(record)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Reduce the per-sample records to the output metrics (see the class docstring)."""
        logger: MMLogger = MMLogger.get_current_instance()
        metrics: Dict[str, float] = {}
        seg = [r['seg'] for r in results if 'seg' in r]
        depth = [r['depth'] for r in results if 'depth' in r]
        if seg:
            metrics.update(self._seg_metrics(np.sum(seg, axis=0), len(seg), logger))
        if depth:
            metrics.update(self._depth_metrics(np.stack(depth), logger))
            metrics.update(self._depth_scaling_metrics([r['depth_scale'] for r in results if 'depth' in r
                                                        and 'depth_scale' in r], logger))
            if self.protocol is not None:
                metrics[f'depth_protocol.{self.protocol}'] = 1.0
        if not seg and not depth:
            print_log('JointMetric: no sample carried a prediction with its ground truth; nothing to '
                      'evaluate', logger=logger, level=logging.WARNING)
        if self.reference is not None:
            dm = self._delta_m(metrics, has_seg=bool(seg), has_depth=bool(depth), logger=logger)
            if dm is not None:
                metrics['delta_m'] = dm
        return metrics

    # ------------------------------------------------------------------------------------------ the parts
    def _seg_metrics(self, cm: np.ndarray, num_samples: int, logger: MMLogger) -> Dict[str, float]:
        names = self._class_names()
        scores = seg_scores(cm, self.nan_to_num)
        iou = [self._pct(v) for v in scores['iou']]
        table = PrettyTable()
        table.add_column('Class', names)
        table.add_column('IoU', iou)
        table.add_column('Acc', [self._pct(v) for v in scores['acc']])
        print_log(f'segmentation per-class results ({num_samples} images, dataset-level confusion matrix, '
                  f'ignore_index={self.ignore_index}):', logger=logger)
        print_log('\n' + table.get_string(), logger=logger)
        out = dict(mIoU=self._pct(scores['mIoU']), pixel_acc=self._pct(scores['pixel_acc']))
        if self.per_class:
            out.update({f'IoU.{n}': v for n, v in zip(names, iou)})
        return out

    def _describe_scaling(self) -> str:
        if self.depth_scaling is None:
            return 'none'
        if self.depth_scaling == 'median':
            return "'median' (per image, median(gt) / median(pred) over the valid pixels, before clamping)"
        return f'fixed x{self.depth_scaling:g}'

    def _describe_protocol(self) -> str:
        """One line naming the protocol (if any) and every depth option, for the log."""
        head = f'depth protocol {self.protocol!r}: ' if self.protocol is not None else 'depth options: '
        clamp = '[%g, %g]' % self._clamp if self._clamp is not None else 'nothing'
        return (f'{head}valid {self.depth_range[0]} < gt < {self.depth_range[1]}, crop '
                f'{describe_depth_crop(self.depth_crop)}, scaling {self._describe_scaling()}, prediction '
                f"clamped to {clamp}, depth_average='{self.depth_average}'")

    def _depth_scaling_metrics(self, ratios: List[float], logger: MMLogger) -> Dict[str, float]:
        if self.depth_scaling is None:
            return {}
        if self.depth_scaling != 'median':
            return dict(scale_factor=float(self.depth_scaling))
        st = scale_ratio_stats(ratios)
        print_log(f" Scaling ratios | med: {st['med']:0.3f} | std: {st['std']:0.3f}   (over {st['num']} "
                  f"images with a valid pixel; std of ratio / med, as Monodepth2; raw std "
                  f"{st['raw_std']:.4g}, min {st['min']:.4g}, max {st['max']:.4g})", logger=logger)
        return dict(scale_ratio_med=st['med'], scale_ratio_std=st['std'])

    def _depth_metrics(self, stats: np.ndarray, logger: MMLogger) -> Dict[str, float]:
        out = depth_metrics_from_stats(stats, self.depth_average)
        num_valid = stats[:, 0]
        custom = self.protocol is not None or self.depth_scaling is not None
        if custom or not isinstance(self.clamp_pred, bool):
            print_log(self._describe_protocol(), logger=logger)
        how = ('pooled over all valid pixels of the dataset' if self.depth_average == 'pixel' else
               'per image, then mean over images with a valid pixel')
        print_log(f"depth results (depth_average='{self.depth_average}': {how}; {len(stats)} images, "
                  f'{int((num_valid > 0).sum())} with valid pixels, {int(num_valid.sum())} valid pixels; '
                  f'valid {self.depth_range[0]} < gt < {self.depth_range[1]}, crop '
                  f'{describe_depth_crop(self.depth_crop)}, clamp_pred={self.clamp_pred}):',
                  logger=logger)
        if not (num_valid > 0).any():
            print_log('JointMetric: no valid depth pixel; depth metrics are nan', logger=logger,
                      level=logging.WARNING)
        table = PrettyTable()
        for k in DEPTH_METRICS:
            table.add_column(k, [round(out[k], 5)])
        print_log('\n' + table.get_string(), logger=logger)
        return out

    def _delta_m(self, metrics: Dict[str, float], has_seg: bool, has_depth: bool,
                 logger: MMLogger) -> Optional[float]:
        present = (SEG_METRICS if has_seg else ()) + (DEPTH_METRICS if has_depth else ())
        ref = {k: v for k, v in self.reference.items() if k in present}
        dropped = [k for k in self.reference if k not in ref]
        if dropped:
            print_log(f'JointMetric: Δm ignores reference metric(s) {dropped}: their task is not evaluated',
                      logger=logger, level=logging.WARNING)
        if not ref:
            print_log('JointMetric: no reference metric is evaluated; delta_m is not reported', logger=logger,
                      level=logging.WARNING)
            return None
        gains = relative_gains(metrics, ref)
        table = PrettyTable()
        table.field_names = ['metric', 'better', 'value', 'reference', 'gain %']
        for k, g in gains.items():
            table.add_row([k, 'higher' if METRIC_DIRECTIONS[k] > 0 else 'lower', round(float(metrics[k]), 5),
                           round(ref[k], 5), round(g, 4)])
        dm = delta_m(metrics, ref)  # the public formula, so leaderboard tools reproduce it
        print_log(f'delta_m = {dm:.4f} % over the metric set {list(gains)} '
                  f'(T={len(gains)}, Maninis et al. 2019):', logger=logger)
        print_log('\n' + table.get_string(), logger=logger)
        return dm
