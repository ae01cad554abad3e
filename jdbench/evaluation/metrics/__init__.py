"""jdbench evaluation metrics (registered in ``jdbench.registry.METRICS``)."""
from .joint_metric import JointMetric

__all__ = ['JointMetric']
