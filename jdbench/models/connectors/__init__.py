from .adaptors import KD4MTLAdaptor
from .joint_connector import JointDistillConnector

__all__ = ['JointDistillConnector', 'KD4MTLAdaptor']
