"""Self-supervised monocular depth (Monodepth2) and cross-task distillation into it (X-Distill)."""
from .cross_task import (CITYSCAPES_CLASSES, DEFAULT_GROUPING, GROUPINGS, ClassGrouping, CrossTaskDistillLoss,
                         DisparityTranslator, TeacherLabelCache, cross_task_distill, group_agreement,
                         resize_logits)
from .depth_net import DepthDecoder, MonoDepthNet
from .geometry import (BackprojectDepth, Project3D, backproject, disp_to_depth, pixel_grid, pixels_to_grid,
                       project, rot_from_axisangle, transformation_from_parameters, warp)
from .monodepth2 import Monodepth2, SequenceBatch, source_frames, split_sequence
from .pose_net import PoseDecoder, PoseNet, load_multi_frame_weights
from .xdistill import XDistill

__all__ = [
    'disp_to_depth', 'pixel_grid', 'backproject', 'project', 'pixels_to_grid', 'warp', 'rot_from_axisangle',
    'transformation_from_parameters', 'BackprojectDepth', 'Project3D', 'DepthDecoder', 'MonoDepthNet',
    'PoseDecoder', 'PoseNet', 'load_multi_frame_weights', 'SequenceBatch', 'split_sequence', 'source_frames',
    'Monodepth2', 'CITYSCAPES_CLASSES', 'GROUPINGS', 'DEFAULT_GROUPING', 'ClassGrouping',
    'DisparityTranslator', 'CrossTaskDistillLoss', 'TeacherLabelCache', 'cross_task_distill',
    'group_agreement', 'resize_logits', 'XDistill'
]
