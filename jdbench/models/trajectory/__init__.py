"""Knowledge trajectory (JointDistill, spec §4): attention maps, probe set, trajectory file, loss."""
from .attention import (FeatureCapture, attention_map, essential_points, gather_points, grid_size,
                        resolve_module)
from .probe import DEFAULT_HOLDOUT, PROBE_DEFAULTS, ProbeSet, probe_hash
from .trajectory_file import TRAJECTORY_FORMAT, check_trajectory, load_trajectory, save_trajectory
from .trajectory_loss import TrajectoryDistillLoss, select_milestone, trajectory_loss

__all__ = [
    'FeatureCapture', 'attention_map', 'essential_points', 'gather_points', 'grid_size', 'resolve_module',
    'DEFAULT_HOLDOUT', 'PROBE_DEFAULTS', 'ProbeSet', 'probe_hash', 'TRAJECTORY_FORMAT', 'check_trajectory',
    'load_trajectory', 'save_trajectory', 'TrajectoryDistillLoss', 'select_milestone', 'trajectory_loss'
]
