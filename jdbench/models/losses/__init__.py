from .depth_losses import BerHuLoss, DepthL1Loss, SILogLoss

__all__ = ['DepthL1Loss', 'SILogLoss', 'BerHuLoss']
