from .depth_losses import BerHuLoss, DepthL1Loss, SILogLoss
from .kd_losses import FeatureL2Loss, TemperatureKLLoss
from .photometric import EdgeAwareSmoothnessLoss, PhotometricLoss, SSIM, ssim  # noqa: F401

__all__ = ['DepthL1Loss', 'SILogLoss', 'BerHuLoss', 'TemperatureKLLoss', 'FeatureL2Loss']
