"""An example jdbench plugin: a weighting strategy registered from outside the package."""
from .geometric_mean import GeometricMean

__all__ = ['GeometricMean']
