from .arrays import LoadNpyAnnotations, LoadNpyImage, LoadNYUv2Annotations
from .loading import (CAMERA_FIELDS, DEPTH_MODES, LoadCityscapesDepth, LoadJointAnnotations,
                      disparity_to_depth, load_camera)
from .sequence import (LoadSequenceFromFile, PackSequenceInputs, RandomFlipSequence,  # noqa: F401
                       ResizeSequence, SequenceColorJitter)
from .transforms import DEPTH_SCALINGS, RandomResizeDepth

__all__ = [
    'CAMERA_FIELDS', 'DEPTH_MODES', 'DEPTH_SCALINGS', 'LoadCityscapesDepth', 'LoadJointAnnotations',
    'RandomResizeDepth', 'disparity_to_depth', 'load_camera', 'LoadNpyAnnotations', 'LoadNpyImage',
    'LoadNYUv2Annotations'
]
