"""Several data streams read together: e.g. a labelled source domain and an unlabelled target domain."""
import copy
from typing import Any, Dict, Union

import numpy as np
from mmengine.dataset import BaseDataset, force_full_init

from jdbench.registry import DATASETS


@DATASETS.register_module()
class MultiStreamDataset:
    """Item ``i`` is ``{name: item of stream name}`` for every stream, in the order of ``streams``.

    The length is the longest stream's. A shorter stream of length ``n`` wraps around: indices ``0..n-1``
    read its items in order, and each later block of ``n`` indices reads them in a permutation of its own,
    drawn from ``seed`` and the stream's position (no global RNG), so every item of the stream is read once
    per block and the map is the same in every process and run. The default collate (``pseudo_collate``)
    collates each stream on its own, and :class:`~jdbench.models.MultiStreamDataPreProcessor` pre-processes
    each: the model receives ``{name: {'inputs', 'data_samples'}}``.

    ``metainfo`` is the first stream's. Streams with different ``classes`` are an error unless
    ``check_classes=False`` (e.g. an unlabelled target stream whose dataset declares another label set).

    Args:
        streams (dict[str, dict | BaseDataset]): stream name -> dataset (or its config), e.g.
            ``dict(source=dict(type='SynthDriveDataset', ...),
            target=dict(type='CityscapesJointDataset', ...))``.
        seed (int): seed of the wrap-around permutations. Defaults to 0.
        check_classes (bool): require the same ``metainfo['classes']`` in every stream. Defaults to True.
        lazy_init (bool): defer the streams' ``full_init`` (and the index maps) to the first use, as
            mmengine's dataset wrappers. Defaults to False.
    """

    def __init__(self,
                 streams: Dict[str, Union[dict, BaseDataset]],
                 seed: int = 0,
                 check_classes: bool = True,
                 lazy_init: bool = False) -> None:
        if not isinstance(streams, dict) or not streams:
            raise ValueError('MultiStreamDataset needs streams=dict(<name>=<dataset or config>, ...), '
                             f'got {streams!r}')
        self.streams: Dict[str, Any] = {
            name: DATASETS.build(ds) if isinstance(ds, dict) else ds
            for name, ds in streams.items()
        }
        self.seed = int(seed)
        first = next(iter(self.streams))
        self._metainfo = copy.deepcopy(dict(getattr(self.streams[first], 'metainfo', None) or {}))
        if check_classes:
            ref = self._metainfo.get('classes')
            for name, ds in self.streams.items():
                classes = (getattr(ds, 'metainfo', None) or {}).get('classes')
                if classes is not None and ref is not None and tuple(classes) != tuple(ref):
                    raise ValueError(
                        f'streams {first!r} and {name!r} have different classes ({len(ref)}: '
                        f'{tuple(ref)[:4]}... vs {len(classes)}: {tuple(classes)[:4]}...); give both the '
                        'same label set, or set check_classes=False if the model reads no labels of one')
        self._indices: Dict[str, np.ndarray] = {}
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        """The first stream's meta information (a copy)."""
        return copy.deepcopy(self._metainfo)

    def full_init(self) -> None:
        """``full_init`` every stream, then fix the index map of each."""
        if self._fully_initialized:
            return
        for ds in self.streams.values():
            if hasattr(ds, 'full_init'):
                ds.full_init()
        lengths = {name: len(ds) for name, ds in self.streams.items()}
        empty = [name for name, n in lengths.items() if n == 0]
        if empty:
            raise ValueError(f'MultiStreamDataset: streams {empty} are empty (lengths {lengths})')
        total = max(lengths.values())
        for pos, (name, n) in enumerate(lengths.items()):
            rng = np.random.default_rng([self.seed, pos])
            blocks = [np.arange(n)] + [rng.permutation(n) for _ in range(1, -(-total // n))]
            self._indices[name] = np.concatenate(blocks)[:total]
        self._length = total
        self._fully_initialized = True

    @force_full_init
    def stream_index(self, name: str, idx: int) -> int:
        """The index into stream ``name`` that item ``idx`` reads."""
        return int(self._indices[name][idx])

    @force_full_init
    def get_data_info(self, idx: int) -> Dict[str, dict]:
        """``{name: data info of the item read from that stream}``."""
        return {name: ds.get_data_info(self.stream_index(name, idx)) for name, ds in self.streams.items()}

    @force_full_init
    def __len__(self) -> int:
        return self._length

    def __getitem__(self, idx: int) -> Dict[str, Any]:
        if not self._fully_initialized:
            self.full_init()
        if not 0 <= idx < self._length:
            raise IndexError(f'index {idx} out of range for MultiStreamDataset of length {self._length}')
        return {name: ds[int(self._indices[name][idx])] for name, ds in self.streams.items()}

    def __repr__(self) -> str:
        lengths = ({n: len(ds) for n, ds in self.streams.items()}
                   if self._fully_initialized else 'not initialised')
        return f'{type(self).__name__}(streams={list(self.streams)}, lengths={lengths}, seed={self.seed})'
