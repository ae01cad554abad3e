from .checkpoint_hook import AtomicCheckpointHook
from .data_model_check_hook import DataModelCheckHook
from .export_student_hook import ExportStudentHook
from .feedback_hook import FeedbackHook
from .plot_hook import TrainingPlotHook
from .trajectory_hook import TrajectoryHook, TrajectoryRecorderHook

__all__ = [
    'AtomicCheckpointHook', 'DataModelCheckHook', 'ExportStudentHook', 'FeedbackHook', 'TrainingPlotHook',
    'TrajectoryHook', 'TrajectoryRecorderHook'
]
