from .depth_head import DepthHead

__all__ = ['DepthHead']
