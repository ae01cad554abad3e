"""Safe checkpoint loading under torch >= 2.6.

torch.load defaults to ``weights_only=True`` there, which rejects the mmengine objects that an mmengine
checkpoint carries (``HistoryBuffer`` in the message hub, numpy scalars and arrays in the log history). Instead
of turning ``weights_only`` off, the exact globals an mmengine/jdbench checkpoint needs are allow-listed.
"""
import pickle
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


def _history_buffer_getattr(obj: object, name: str) -> object:
    """The only ``getattr`` an mmengine checkpoint needs: ``HistoryBuffer`` pickles its statistics methods as
    ``getattr(HistoryBuffer, 'mean')``. Anything else is refused, so ``getattr`` is not a general gadget."""
    from mmengine.logging.history_buffer import HistoryBuffer
    # Statistics methods are public functions of the class (min, max, current, mean, or registered ones);
    # `_statistics_methods` itself is only filled once a buffer exists, so it is no guide in a fresh process.
    if obj is HistoryBuffer and isinstance(name, str):
        public_method = not name.startswith('_') and callable(vars(HistoryBuffer).get(name))
        if public_method or name in HistoryBuffer._statistics_methods:
            return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(f'checkpoint asks for getattr({obj!r}, {name!r}), which jdbench does not allow')


def allowed_checkpoint_globals() -> List[object]:
    """Every non-tensor global that a jdbench training checkpoint is allowed to contain."""
    from mmengine.logging.history_buffer import HistoryBuffer
    restricted_getattr = [(_history_buffer_getattr, f'{mod}.getattr') for mod in ('__builtin__', 'builtins')]
    return [HistoryBuffer] + _numpy_globals() + restricted_getattr


def register_safe_globals() -> None:
    """Allow-list :func:`allowed_checkpoint_globals` for ``torch.load(weights_only=True)``."""
    if hasattr(torch.serialization, 'add_safe_globals'):
        torch.serialization.add_safe_globals(allowed_checkpoint_globals())


def load_state_dict_checked(path: str) -> dict:
    """Load a checkpoint's ``state_dict`` with ``weights_only=True``; clear errors for missing or corrupt files."""
    import os.path as osp
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path!r} does not exist; train one with tools/train.py CONFIG '
                                '(it is written to work_dirs/<config name>/) or fix the path.')
    register_safe_globals()
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # noqa: BLE001  (torch raises several types for damaged files)
        raise RuntimeError(f'checkpoint {path!r} could not be read ({type(err).__name__}: {err}). '
                           'The file is damaged or not a torch checkpoint; retrain or copy it again.') from err
    return ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt


def check_state_dict_matches(model: torch.nn.Module, state_dict: dict, path: str = 'checkpoint') -> None:
    """Raise a clear error when ``state_dict`` does not fit ``model`` (missing keys or shape mismatches)."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    bad = [f'{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(v.shape)}'
           for k, v in own.items() if k in state_dict and hasattr(state_dict[k], 'shape')
           and tuple(state_dict[k].shape) != tuple(v.shape)]
    if missing or bad:
        lines = [f'{path} does not match the model built from the config:']
        if missing:
            lines.append(f'  {len(missing)} model weights missing from it, e.g. {missing[:3]}')
        if bad:
            lines.append(f'  {len(bad)} shape mismatches, e.g. {bad[:3]}')
        lines.append('  Use the config the checkpoint was trained with (or the student config for a '
                     'student-only checkpoint).')
        raise ValueError('\n'.join(lines))
