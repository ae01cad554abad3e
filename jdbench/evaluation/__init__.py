"""Evaluation: the JointMetric and the pure helpers (:mod:`jdbench.evaluation.functional`) it is built on."""
from .functional import (DEPTH_CROPS, DEPTH_METRICS, DEPTH_STAT_FIELDS, METRIC_DIRECTIONS, SEG_METRICS, delta_m,
                         depth_crop_mask, depth_error_stats, depth_metrics_from_stats, relative_gains,
                         seg_confusion_matrix, seg_scores)
from .functional import (DEPTH_PROTOCOLS, STEREO_SCALE_FACTOR, depth_crop_bounds, depth_valid_mask,
                         median_scale_ratio, scale_ratio_stats)
from .metrics import JointMetric

__all__ = [
    'JointMetric', 'METRIC_DIRECTIONS', 'SEG_METRICS', 'DEPTH_METRICS', 'DEPTH_STAT_FIELDS', 'delta_m',
    'relative_gains', 'seg_confusion_matrix', 'seg_scores', 'depth_error_stats', 'depth_metrics_from_stats',
    'DEPTH_CROPS', 'depth_crop_mask', 'DEPTH_PROTOCOLS', 'STEREO_SCALE_FACTOR', 'depth_crop_bounds',
    'depth_valid_mask', 'median_scale_ratio', 'scale_ratio_stats'
]
