from .. import connectors, teachers  # noqa: F401  (registers the connectors, adaptors, teacher and recorders)
from .base import BaseDistiller
from .cross_task import KDStaticXD  # noqa: F401
from .joint_distill import JointDistill
from .kd4mtl import KD4MTL
from .kd_static import KDStatic

__all__ = ['BaseDistiller', 'KDStatic', 'KD4MTL', 'JointDistill']
