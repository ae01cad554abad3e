from .connector_seg_head import ConnectorSegHead
from .depth_head import DepthHead

__all__ = ['ConnectorSegHead', 'DepthHead']
