"""Knowledge trajectory (JointDistill, docs/methods.md): attention maps, the probe set, trajectory file, loss."""
from .attention import attention_map, attention_maps, essential_points, gather_points, grid_size, probe_mode
from .probe import Probe
from .trajectory_file import TRAJECTORY_FORMAT, check_trajectory, load_trajectory, save_trajectory
from .trajectory_loss import TrajectoryDistillLoss, select_milestone, trajectory_loss

__all__ = [
    'attention_map', 'attention_maps', 'essential_points', 'gather_points', 'grid_size', 'probe_mode', 'Probe',
    'TRAJECTORY_FORMAT', 'check_trajectory', 'load_trajectory', 'save_trajectory', 'TrajectoryDistillLoss',
    'select_milestone', 'trajectory_loss'
]
