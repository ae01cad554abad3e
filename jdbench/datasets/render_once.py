"""Data rendered on first use (SynthDrive images, sequences, GTA5 layout): once, atomically, under a lock."""
import contextlib
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Callable, Iterator, Optional

from mmengine.logging import MMLogger


@contextlib.contextmanager
def exclusive_lock(path: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (no-op where ``fcntl`` is unavailable)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover  (non-POSIX: the atomic rename alone guards)
        yield
        return
    with open(path, 'a') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def is_missing(root: str) -> bool:
    """A data root is missing if it does not exist or is an empty folder."""
    return not osp.exists(root) or (osp.isdir(root) and not os.listdir(root))


def render_once(root: str,
                render: Callable[[str], None],
                generate: dict,
                record: str,
                what: str,
                plan: str,
                logger: Optional[MMLogger] = None) -> None:
    """Make sure ``root`` holds the data that ``render(folder)`` writes.

    When ``root`` is missing (or empty), ``render`` writes into a temporary sibling folder, ``generate`` (the
    arguments) is recorded in ``<folder>/<record>``, and the folder is renamed to ``root`` atomically.
    Concurrent processes (DDP ranks) wait on ``{root}.lock`` and use the result; if another process still got
    there first, its data are used and ours discarded. Existing data rendered with other arguments are used
    with a warning. ``what`` names the data in messages (e.g. ``'SynthDrive data'``), ``plan`` says what is
    rendered (e.g. ``'rendering 400 train + 40 val images of 64x128 ...'``).
    """
    logger = logger or MMLogger.get_current_instance()
    if is_missing(root):
        os.makedirs(osp.dirname(root), exist_ok=True)
        with exclusive_lock(root + '.lock'):
            if is_missing(root):
                _render_atomically(root, render, generate, record, what, plan, logger)
            else:
                logger.info(f'{what} at {root} were rendered by another process; using them.')
    path = osp.join(root, record)
    if osp.isfile(path):
        with open(path) as f:
            rendered = json.load(f)
        wanted = json.loads(json.dumps(generate))
        if rendered != wanted:
            logger.warning(f'{what} at {root} were rendered with {rendered}, but this dataset asks for {wanted}; '
                           f'using the existing data. Delete {root} (or set another data_root) to render them '
                           'again.')


def _render_atomically(root: str, render: Callable[[str], None], generate: dict, record: str, what: str,
                       plan: str, logger: MMLogger) -> None:
    logger.info(f'{what} not found at {root}: {plan} on first use; this happens once.')
    tmp: Optional[str] = tempfile.mkdtemp(prefix=f'.{osp.basename(root)}.tmp-', dir=osp.dirname(root))
    try:
        os.chmod(tmp, 0o755)
        render(tmp)
        with open(osp.join(tmp, record), 'w') as f:
            json.dump(generate, f)
        try:
            os.rename(tmp, root)
        except OSError:
            if is_missing(root):
                raise
            logger.info(f'Another process finished rendering {what} into {root} first; using its data.')
        else:
            tmp = None
            logger.info(f'{what} rendered into {root}.')
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
