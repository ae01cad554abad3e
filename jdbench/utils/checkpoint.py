"""Safe checkpoint loading under torch >= 2.6.

torch.load defaults to ``weights_only=True`` there, which rejects the mmengine objects that an mmengine
checkpoint carries (``HistoryBuffer`` in the message hub, numpy scalars and arrays in the log history). Instead
of turning ``weights_only`` off, the exact globals an mmengine/jdbench checkpoint needs are allow-listed.
"""
from typing import List

import numpy as np
import torch


def _numpy_globals() -> List[object]:
    """numpy reconstruction helpers and dtype classes pickled into log histories."""
    found: List[object] = [np.ndarray, np.dtype]
    for mod_name in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        try:
            mod = __import__(mod_name, fromlist=['_reconstruct', 'scalar'])
        except ImportError:
            continue
        found += [getattr(mod, '_reconstruct'), getattr(mod, 'scalar')]
    found += [type(np.dtype(t)) for t in ('float16', 'float32', 'float64', 'int32', 'int64', 'uint8', 'bool')]
    return found


def allowed_checkpoint_globals() -> List[object]:
    """Every non-tensor global that a jdbench training checkpoint is allowed to contain."""
    from mmengine.logging.history_buffer import HistoryBuffer
    return [HistoryBuffer] + _numpy_globals()


def register_safe_globals() -> None:
    """Allow-list :func:`allowed_checkpoint_globals` for ``torch.load(weights_only=True)``."""
    if hasattr(torch.serialization, 'add_safe_globals'):
        torch.serialization.add_safe_globals(allowed_checkpoint_globals())
