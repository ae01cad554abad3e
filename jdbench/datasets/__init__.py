from . import synthdrive  # noqa: F401
from . import bdd100k, gta5  # noqa: F401  (GTA5Dataset, SynthDriveGTA5Dataset, BDD100KDataset, their loaders)
from .cityscapes import CityscapesJointDataset
from .kitti import KITTIRawDataset  # noqa: F401
from .mtan import CityscapesMTANDataset, NYUv2MTANDataset
from .nyuv2 import NYUv2Dataset
from .probe_subset import ProbeSubset
from .streams import MultiStreamDataset
from .synthdrive_dataset import SynthDriveDataset
from .synthdrive_seq_dataset import SynthDriveSeqDataset  # noqa: F401
from .transforms import (LoadCityscapesDepth, LoadJointAnnotations, LoadNpyAnnotations, LoadNpyImage,
                         LoadNYUv2Annotations, RandomResizeDepth)

__all__ = [
    'CityscapesJointDataset', 'ProbeSubset', 'MultiStreamDataset', 'SynthDriveDataset', 'LoadCityscapesDepth',
    'LoadJointAnnotations', 'RandomResizeDepth', 'NYUv2Dataset', 'NYUv2MTANDataset', 'CityscapesMTANDataset',
    'LoadNpyAnnotations', 'LoadNpyImage', 'LoadNYUv2Annotations'
]
