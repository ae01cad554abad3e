"""jdbench: distil several single-task teachers into one joint segmentation + depth student."""
from .utils import register_checkpoint_loader
from .version import __version__

register_checkpoint_loader()  # mmengine's Runner reads local checkpoints through jdbench's safe loader

__all__ = ['__version__', 'register_all_modules']


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every jdbench module so its components are registered; optionally set scope 'jdbench'.

    mmseg's own modules are imported too: a parent registry does not import its lazy ``locations`` when a
    child registry (jdbench's) falls back to it, so e.g. ``SegLocalVisualizer`` would not be found.
    """
    import mmseg.visualization  # noqa: F401  (mmseg's register_all_modules does not import it)
    from mmseg.utils import register_all_modules as register_mmseg
    register_mmseg(init_default_scope=False)
    import jdbench.datasets  # noqa: F401
    import jdbench.engine  # noqa: F401
    import jdbench.evaluation  # noqa: F401
    import jdbench.models  # noqa: F401
    import jdbench.weighting  # noqa: F401
    if init_default_scope:
        from mmengine.registry import init_default_scope as _init
        _init('jdbench')
