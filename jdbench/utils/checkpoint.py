"""The one way jdbench reads checkpoints: ``torch.load(weights_only=True)`` with an allow-list, clear errors.

An mmengine checkpoint carries a few non-tensor objects (``HistoryBuffer`` in the message hub, numpy scalars
and arrays in the log history); instead of turning ``weights_only`` off, exactly those globals are allowed.
Every reader goes through :func:`read_checkpoint`:

* mmengine's Runner (``resume``, ``load_from``): :func:`register_checkpoint_loader` (run by ``import
  jdbench``) makes :func:`load_from_local` mmengine's loader of local files;
* ``tools/test.py``, ``tools/visualize.py``, ``tools/analyze_cost.py`` and the suite: :func:`load_weights`,
  which also takes a distiller's student-only ``final.pth``;
* the frozen teachers: :func:`load_state_dict_checked`.
"""
import os.path as osp
import pickle
from typing import Any, List, Mapping, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn


# ------------------------------------------------------------------------------------------------ allow-list
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


# --------------------------------------------------------------------------------------------------- reading
class CheckpointError(RuntimeError):
    """A checkpoint file that exists but cannot be read safely (damaged, or objects outside the allow-list)."""


def read_checkpoint(path: str, map_location: Any = 'cpu') -> Any:
    """A checkpoint file's content, read with ``weights_only=True`` and the allow-list.

    Raises FileNotFoundError for a missing file and :class:`CheckpointError` (saying what to do) for a damaged
    file or one that holds objects outside the allow-list.
    """
    path = osp.expanduser(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path!r} does not exist; train one with tools/train.py CONFIG '
                                '(it is written to work_dirs/<config name>/) or fix the path.')
    register_safe_globals()
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if 'weights only' in str(err).lower():
            raise CheckpointError(
                f'checkpoint {path!r} holds objects that jdbench does not load ({str(err).splitlines()[0]}). '
                'jdbench reads checkpoints with weights_only=True; if the file is yours, convert it once: '
                'ckpt = torch.load(path, weights_only=False); '
                'torch.save(dict(state_dict=ckpt["state_dict"]), new_path).') from err
        raise CheckpointError(f'checkpoint {path!r} could not be read ({type(err).__name__}: {err}). '
                           'The file is damaged or not a torch checkpoint; retrain or copy it again.') from err
    except Exception as err:  # noqa: BLE001  (torch raises several types for damaged files)
        raise CheckpointError(f'checkpoint {path!r} could not be read ({type(err).__name__}: {err}). '
                           'The file is damaged or not a torch checkpoint; retrain or copy it again.') from err


def load_from_local(filename: str, map_location: Any = None) -> Any:
    """mmengine's ``CheckpointLoader`` scheme for local files (prefix ``''``): :func:`read_checkpoint`."""
    return read_checkpoint(filename, map_location)


def register_checkpoint_loader() -> None:
    """Make :func:`read_checkpoint` the loader of local files for mmengine (Runner resume and ``load_from``)."""
    from mmengine.runner.checkpoint import CheckpointLoader
    register_safe_globals()
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)


def load_state_dict_checked(path: str) -> dict:
    """A checkpoint's ``state_dict`` (see :func:`read_checkpoint` for the errors)."""
    ckpt = read_checkpoint(path)
    return ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt


# ------------------------------------------------------------------------------------------ into a model
STUDENT_ONLY_HINT = ('It holds a student alone (a distiller run\'s final.pth): evaluate it with the student '
                     'config it was trained with.')


def check_state_dict_matches(model: nn.Module, state_dict: Mapping, path: str = 'checkpoint',
                             hint: str = 'Use the config the checkpoint was trained with (or the student config '
                             'for a student-only checkpoint).') -> None:
    """Raise a clear error (ending with ``hint``) when ``state_dict`` does not fit ``model`` (missing keys or
    shape mismatches)."""
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
        lines.append(f'  {hint}')
        raise ValueError('\n'.join(lines))


def _strip_module(state_dict: Mapping) -> Mapping:
    if state_dict and all(k.startswith('module.') for k in state_dict):
        return {k[len('module.'):]: v for k, v in state_dict.items()}
    return state_dict


def weights_target(model: nn.Module, state_dict: Mapping) -> Tuple[nn.Module, str]:
    """The module a checkpoint is meant for: the model itself, or a distiller's ``student`` when the checkpoint
    is student-only (``ExportStudentHook``'s ``final.pth``: no ``student.`` keys)."""
    student = getattr(model, 'student', None)
    if not isinstance(student, nn.Module) or set(model.state_dict()) <= set(state_dict):
        return model, 'model'
    if set(student.state_dict()) <= set(state_dict) or not any(k.startswith('student.') for k in state_dict):
        return student, 'student'
    return model, 'model'


def load_weights(model: nn.Module, path: str, state_dict: Optional[Mapping] = None) -> str:
    """Load a checkpoint into the model or, for a student-only export, into ``model.student``.

    ``state_dict`` is the file's, when it was read already. Returns ``'model'`` or ``'student'``; raises
    clear errors for missing, damaged or mismatching files.
    """
    if state_dict is None:
        state_dict = load_state_dict_checked(path)
    state_dict = _strip_module(state_dict)
    target, where = weights_target(model, state_dict)
    if where == 'student':
        check_state_dict_matches(target, state_dict, f'{path} (a student-only checkpoint)', STUDENT_ONLY_HINT)
    else:
        check_state_dict_matches(target, state_dict, path)
    target.load_state_dict(state_dict, strict=False)
    return where
