"""The one way jdbench reads and writes checkpoints: ``torch.load(weights_only=True)`` with an allow-list,
atomic writes, clear errors.

An mmengine checkpoint carries a few non-tensor objects (``HistoryBuffer`` in the message hub, numpy scalars
and arrays in the log history); instead of turning ``weights_only`` off, exactly those globals are allowed.
Every reader goes through :func:`read_checkpoint`:

* mmengine's Runner (``resume``, ``load_from``): :func:`register_checkpoint_loader` (run by ``import
  jdbench``) makes :func:`load_from_local` mmengine's loader of local files;
* ``tools/test.py``, ``tools/visualize.py``, ``tools/analyze_cost.py`` and the suite: :func:`load_weights`,
  which also takes a distiller's student-only ``final.pth``;
* the frozen teachers: :func:`load_state_dict_checked`;
* remote files (``http(s)://``; ``torchvision://``, ``open-mmlab://``, ``mmcls://``, which mmengine
  resolves to URLs): :func:`load_from_http`, ``weights_only=True`` as well.

``weights_only=True`` is always passed explicitly, so neither torch's default nor
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` (which only overrides an unset argument) can turn it off. The
allow-list needs torch >= 2.6 (:data:`MIN_TORCH`).

Writes (checkpoints, ``final.pth``) go through :func:`atomic_save` / :func:`publish`: a temporary file in the
same folder, flushed and fsynced, then renamed over the target, so a kill leaves the old file or the new one,
never a half-written one. :func:`latest_loadable_checkpoint` picks what a resume starts from.
"""
import errno
import functools
import glob
import os
import os.path as osp
import pickle
import re
import shutil
from contextlib import contextmanager
from typing import IO, Any, Iterator, List, Mapping, Optional, Tuple

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


MIN_TORCH = (2, 6)
MIN_TORCH_REASON = ('jdbench loads every checkpoint with torch.load(weights_only=True) and an allow-list; '
                    'torch 2.6 is the first release whose add_safe_globals takes the (object, "module.name") '
                    'entries of that allow-list (mmengine pickles HistoryBuffer statistics through '
                    'builtins.getattr)')


def torch_version() -> Tuple[int, int]:
    """``(major, minor)`` of the installed torch."""
    return tuple(int(x) for x in re.findall(r'\d+', torch.__version__)[:2])


def check_torch_version() -> None:
    """Raise a clear error on a torch older than :data:`MIN_TORCH` (whose safe loading cannot read mmengine
    checkpoints)."""
    if torch_version() < MIN_TORCH:
        raise RuntimeError(f'torch {torch.__version__} is too old for jdbench: it needs torch >= '
                           f'{".".join(map(str, MIN_TORCH))} ({MIN_TORCH_REASON}). Install a newer torch '
                           '(README, "GPU users").')


def register_safe_globals() -> None:
    """Allow-list :func:`allowed_checkpoint_globals` for ``torch.load(weights_only=True)``."""
    if hasattr(torch.serialization, 'add_safe_globals'):
        torch.serialization.add_safe_globals(allowed_checkpoint_globals())


# --------------------------------------------------------------------------------------------------- reading
class CheckpointError(RuntimeError):
    """A checkpoint file that exists but cannot be read safely (damaged, or objects outside the allow-list)."""


def _refused(err: Exception) -> str:
    """What the weights-only unpickler refused, e.g. ``Unsupported global: GLOBAL builtins.exec ...``."""
    match = re.search(r'WeightsUnpickler error: ([^\n]*)', str(err))
    text = match.group(1) if match else (str(err).splitlines() or [''])[0]
    return text.split('. Please use')[0]


def _unsafe_error(path: str, err: Exception) -> CheckpointError:
    return CheckpointError(
        f'checkpoint {path!r} holds objects that jdbench does not load ({_refused(err)}). jdbench reads '
        'checkpoints with weights_only=True: loading this file otherwise would run code stored in it. Only if '
        'you made the file yourself, convert it once: ckpt = torch.load(path, weights_only=False); '
        'torch.save(dict(state_dict=ckpt["state_dict"]), new_path).')


def read_checkpoint(path: str, map_location: Any = 'cpu') -> Any:
    """A checkpoint file's content, read with ``weights_only=True`` and the allow-list.

    Raises FileNotFoundError for a missing file and :class:`CheckpointError` (saying what to do) for a damaged
    file or one that holds objects outside the allow-list.
    """
    path = osp.expanduser(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path!r} does not exist; train one with tools/train.py CONFIG '
                                '(it is written to work_dirs/<config name>/) or fix the path.')
    check_torch_version()
    register_safe_globals()
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if 'weights only' in str(err).lower():
            raise _unsafe_error(path, err) from err
        raise CheckpointError(f'checkpoint {path!r} could not be read ({type(err).__name__}: {err}). '
                           'The file is damaged or not a torch checkpoint; retrain or copy it again.') from err
    except Exception as err:  # noqa: BLE001  (torch raises several types for damaged files)
        raise CheckpointError(f'checkpoint {path!r} could not be read ({type(err).__name__}: {err}). '
                           'The file is damaged or not a torch checkpoint; retrain or copy it again.') from err


def load_from_local(filename: str, map_location: Any = None) -> Any:
    """mmengine's ``CheckpointLoader`` scheme for local files (prefix ``''``): :func:`read_checkpoint`."""
    return read_checkpoint(filename, map_location)


def load_from_http(filename: str, map_location: Any = None, model_dir: Optional[str] = None,
                   progress: bool = False) -> Any:
    """mmengine's ``http(s)://`` scheme with ``weights_only=True`` and the allow-list (downloaded once per
    machine into torch's hub cache; in a distributed run rank 0 downloads first)."""
    from mmengine.dist import get_dist_info
    check_torch_version()
    register_safe_globals()
    rank, world_size = get_dist_info()

    def load() -> Any:
        try:
            return torch.hub.load_state_dict_from_url(filename, model_dir=model_dir, progress=progress,
                                                      map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as err:
            raise _unsafe_error(filename, err) from err

    checkpoint = load() if rank == 0 else None
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            checkpoint = load()
    return checkpoint


def register_checkpoint_loader() -> None:
    """Make :func:`read_checkpoint` mmengine's loader of local files (Runner resume and ``load_from``), and
    :func:`load_from_http` its loader of URLs (``torchvision://``, ``open-mmlab://``, ``mmcls://`` resolve to
    URLs and call mmengine's ``load_from_http`` by name, which is replaced too)."""
    import mmengine.runner.checkpoint as mm_checkpoint
    register_safe_globals()
    mm_checkpoint.CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
    mm_checkpoint.CheckpointLoader.register_scheme(prefixes=('http://', 'https://'), loader=load_from_http,
                                                   force=True)
    mm_checkpoint.load_from_http = load_from_http


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


# --------------------------------------------------------------------------------------------------- writing
PART_SUFFIX = '.part'  # `<file>.part`: a write in progress (or one a kill interrupted); never read
NO_SPACE = (errno.ENOSPC, getattr(errno, 'EDQUOT', errno.ENOSPC))


def _fsync_dir(folder: str) -> None:
    """Make a rename in ``folder`` durable (best effort: some file systems refuse to fsync a folder)."""
    try:
        fd = os.open(folder or '.', os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def no_space_error(path: str, err: OSError) -> OSError:
    """``err`` (a full disk or quota) as an OSError that names the file, the free space and what to do."""
    folder = osp.dirname(osp.abspath(path))
    while folder and not osp.isdir(folder):
        folder = osp.dirname(folder)
    try:
        free = f'{shutil.disk_usage(folder).free / 2**20:.0f} MiB free on that disk'
    except OSError:
        free = 'free space unknown'
    return OSError(err.errno, f'no space left to write {path} ({free}; {err.strerror or err}). Free '
                   'some space (old work_dirs/ runs, iter_*.pth checkpoints) or train into a folder on '
                   'another disk (--work-dir), then rerun with --resume: the last complete checkpoint is '
                   'intact.')


def discard(path: str) -> None:
    """Remove ``path`` if it exists (a temporary file after a failed write)."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def publish(part: str, path: str) -> None:
    """Make the finished temporary file ``part`` durable (fsync) and rename it over ``path`` (atomic)."""
    try:
        with open(part, 'rb+') as f:
            os.fsync(f.fileno())
        os.replace(part, path)
    except OSError as err:
        discard(part)
        raise no_space_error(path, err) if err.errno in NO_SPACE else err
    _fsync_dir(osp.dirname(osp.abspath(path)))


@contextmanager
def atomic_write(path: str, mode: str = 'wb') -> Iterator[IO]:
    """Open ``<path>.part`` for writing; on success it is fsynced and renamed over ``path``.

    Whatever interrupts the write (an exception, a full disk, a kill), ``path`` keeps its previous content (or
    stays absent): never a half-written file. A failed write removes its temporary file; a full disk is
    reported by :func:`no_space_error`.
    """
    path = osp.expanduser(path)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    part = path + PART_SUFFIX
    try:
        with open(part, mode) as f:
            yield f
            f.flush()
    except BaseException as err:
        discard(part)
        if isinstance(err, OSError) and err.errno in NO_SPACE:
            raise no_space_error(path, err) from err
        raise
    publish(part, path)


def atomic_save(obj: Any, path: str) -> None:
    """``torch.save(obj, path)`` through :func:`atomic_write`."""
    with atomic_write(path) as f:
        torch.save(obj, f)


# ------------------------------------------------------------------------------------------------ resuming
ITER_CHECKPOINT = re.compile(r'iter_(\d+)\.pth$')


@functools.lru_cache(maxsize=256)
def _problem_cached(path: str, size: int, mtime_ns: int) -> Optional[str]:
    try:
        read_checkpoint(path)
    except (FileNotFoundError, CheckpointError) as err:
        return str(err)
    return None


def checkpoint_problem(path: str) -> Optional[str]:
    """Why the checkpoint at ``path`` cannot be trusted (missing, damaged, objects outside the allow-list), or
    None when it loads. It is read in full (once per file version: the answer is cached by size and mtime)."""
    try:
        st = os.stat(path)
    except OSError:
        return f'checkpoint {path!r} does not exist'
    return _problem_cached(osp.abspath(path), st.st_size, st.st_mtime_ns)


def checkpoint_iter(path: str) -> int:
    """The iteration in an ``iter_<N>.pth`` name (0 for other names)."""
    match = ITER_CHECKPOINT.search(path)
    return int(match.group(1)) if match else 0


def resume_candidates(work_dir: str) -> List[str]:
    """The checkpoints a resume may start from, newest first: the one mmengine's ``last_checkpoint`` names (if
    it exists) and every ``iter_<N>.pth`` of the work dir."""
    found = glob.glob(osp.join(work_dir, 'iter_*.pth'))
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        if named and osp.isfile(named) and osp.abspath(named) not in map(osp.abspath, found):
            found.append(named)
    return sorted(found, key=lambda p: (checkpoint_iter(p), p), reverse=True)


def latest_loadable_checkpoint(work_dir: str) -> Tuple[Optional[str], List[str]]:
    """The newest checkpoint of ``work_dir`` that loads, and ``'<path>: <why>'`` for each newer one that does
    not (a write a kill interrupted before jdbench wrote atomically, a damaged copy). None when none loads."""
    skipped = []
    for path in resume_candidates(work_dir):
        problem = checkpoint_problem(path)
        if problem is None:
            return path, skipped
        skipped.append(f'{path}: {problem}')
    return None, skipped
