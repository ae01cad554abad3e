from . import synthdrive  # noqa: F401
from .cityscapes import CityscapesJointDataset
from .probe_subset import ProbeSubset
from .streams import MultiStreamDataset
from .synthdrive_dataset import SynthDriveDataset
from .transforms import LoadCityscapesDepth, LoadJointAnnotations, RandomResizeDepth

__all__ = [
    'CityscapesJointDataset', 'ProbeSubset', 'MultiStreamDataset', 'SynthDriveDataset', 'LoadCityscapesDepth',
    'LoadJointAnnotations', 'RandomResizeDepth'
]
