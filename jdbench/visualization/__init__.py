"""Pictures: label / depth / error colouring and prediction panels (training curves: jdbench.benchmark.plots).

This package is the import location of ``jdbench.registry.VISUALIZERS``; importing mmseg's visualizers
here makes ``SegLocalVisualizer`` (the configs' visualizer) resolvable from the ``jdbench`` scope.
"""
import mmseg.visualization  # noqa: F401  (registers SegLocalVisualizer in mmseg's VISUALIZERS, our parent)

from .colorize import INVALID_RGB, colorize_depth, colorize_seg, default_palette, depth_error_map
from .panels import make_panel, panel_size, save_panel

__all__ = [
    'INVALID_RGB', 'colorize_depth', 'colorize_seg', 'default_palette', 'depth_error_map', 'make_panel',
    'panel_size', 'save_panel'
]
