"""Pictures: label, depth and error colouring; prediction panels (training curves: jdbench.visualization.curves)."""
from .colorize import INVALID_RGB, colorize_depth, colorize_seg, default_palette, depth_error_map
from .panels import make_panel, panel_size, save_panel

__all__ = [
    'INVALID_RGB', 'colorize_depth', 'colorize_seg', 'default_palette', 'depth_error_map', 'make_panel',
    'panel_size', 'save_panel'
]
