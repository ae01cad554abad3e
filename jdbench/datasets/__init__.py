from . import synthdrive  # noqa: F401
from .cityscapes import CityscapesJointDataset
from .synthdrive_dataset import SynthDriveDataset
from .transforms import LoadCityscapesDepth, LoadJointAnnotations, RandomResizeDepth

__all__ = [
    'CityscapesJointDataset', 'SynthDriveDataset', 'LoadCityscapesDepth', 'LoadJointAnnotations',
    'RandomResizeDepth'
]
