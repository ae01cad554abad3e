"""JointMetric: segmentation scores, depth errors and Δm in one evaluation pass."""
import logging
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from prettytable import PrettyTable

from jdbench.registry import METRICS
from ..functional import (DEPTH_AVERAGES, DEPTH_METRICS, METRIC_DIRECTIONS, SEG_METRICS, check_depth_range,
                          check_reference, delta_m, depth_error_stats, depth_metrics_from_stats,
                          describe_depth_crop, relative_gains, seg_confusion_matrix, seg_scores)


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
    * ``delta_m`` (percent, positive = better than the reference) when ``reference`` is given, over the
      reference metrics whose task is present; the log lists that metric set and the directions.

    Args:
        num_classes (int, optional): Number of segmentation classes. Defaults to
            ``len(dataset_meta['classes'])``.
        ignore_index (int): Ground-truth label ignored by segmentation. Defaults to 255.
        per_class (bool): Also return ``IoU.<class>`` keys. Defaults to False (keeps the Runner's dict small).
        nan_to_num (float, optional): Value for undefined per-class scores before averaging (mmseg's option).
        seg_decimals (int, optional): Decimals of the segmentation percentages (mmseg rounds to 2); None keeps
            full precision. Defaults to 2.
        depth_range (tuple[float, float]): Valid ground truth ``min < gt < max``; ``0 <= min`` so
            ``gt == 0`` is always invalid. Defaults to ``(1e-3, 80.0)``; NYUv2 configs use ``(1e-3, 10.0)``.
        clamp_pred (bool): Clamp depth predictions to ``depth_range``. Defaults to True.
        depth_crop (str, optional): Named evaluation crop of the ground truth
            (:data:`~jdbench.evaluation.functional.DEPTH_CROPS`), e.g. ``'eigen_nyu'`` (rows 45:471, cols
            41:601 of 480×640 NYUv2 ground truth); written in the log. Defaults to None (the whole image).
        depth_average (str): ``'pixel'``: pooled over all valid pixels of the dataset; ``'image'``: per image,
            then the mean over images with a valid pixel (mmseg ``DepthMetric`` / Eigen). Defaults to
            ``'pixel'``.
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
                 depth_range: Sequence[float] = (1e-3, 80.0),
                 clamp_pred: bool = True,
                 depth_crop: Optional[str] = None,
                 depth_average: str = 'pixel',
                 reference: Optional[Dict[str, float]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        if num_classes is not None and num_classes < 1:
            raise ValueError(f'num_classes must be positive, got {num_classes}')
        if depth_average not in DEPTH_AVERAGES:
            raise ValueError(f'depth_average must be one of {DEPTH_AVERAGES}, got {depth_average!r}')
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.per_class = per_class
        self.nan_to_num = nan_to_num
        self.seg_decimals = seg_decimals
        self.depth_range = check_depth_range(depth_range)
        self.clamp_pred = clamp_pred
        describe_depth_crop(depth_crop)  # validates the name
        self.depth_crop = depth_crop
        self.depth_average = depth_average
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
                    record['depth'] = depth_error_stats(pred_depth, gt_depth, self.depth_range,
                                                        self.clamp_pred, self.depth_crop)
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

    def _depth_metrics(self, stats: np.ndarray, logger: MMLogger) -> Dict[str, float]:
        out = depth_metrics_from_stats(stats, self.depth_average)
        num_valid = stats[:, 0]
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
