"""The probe set: M fixed training images, loaded without augmentation, where attention maps are compared."""
import copy
import hashlib
import inspect
import os.path as osp
from typing import Any, Dict, Iterator, List, Optional, Sequence

import mmengine.fileio as fileio
from mmengine.config import Config, ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.logging import print_log

from jdbench.registry import DATASETS

# Applied to datasets that take a ``holdout`` argument (CityscapesJointDataset and children) when the config
# sets none: the probe never uses an image of the default feedback split, so the trajectory loss does not
# train the student on the images that the feedback weighting scores it on.
DEFAULT_HOLDOUT = dict(fraction=0.05, min_count=32, seed=0)

PROBE_DEFAULTS = dict(dataset=None, pipeline=None, num_images=16, seed=0, batch_size=16, exclude_holdout=True,
                      hash_content=True)
WRAPPERS = ('RepeatDataset', 'ClassBalancedDataset')


def _accepts_holdout(dataset_type: Any) -> bool:
    cls = DATASETS.get(dataset_type) if isinstance(dataset_type, str) else dataset_type
    if not inspect.isclass(cls):
        return False
    return any('holdout' in inspect.signature(c.__init__).parameters
               for c in cls.__mro__ if '__init__' in vars(c))


def probe_rank(seed: int, key: str) -> str:
    """Sort key of an image in the seeded, order-independent permutation that selects the probe set."""
    return hashlib.sha1(f'probe/{seed}/{key}'.encode()).hexdigest()


def probe_hash(keys: Sequence[str], contents: Optional[Sequence[bytes]] = None) -> str:
    """sha1 over the ordered image keys (and, when given, the bytes of each image file)."""
    h = hashlib.sha1()
    for i, key in enumerate(keys):
        h.update(key.encode())
        h.update(b'\0')
        if contents is not None:
            h.update(hashlib.sha1(contents[i]).digest())
    return h.hexdigest()


class ProbeSet:
    """M fixed training images, chosen deterministically, loaded with the test pipeline (no augmentation).

    Selection: every image gets the key ``relpath(img_path, data_root)``; images are ranked by
    ``sha1(f'probe/{seed}/{key}')`` (a seeded permutation that depends only on the keys, not on their order
    or the machine) and the first ``num_images`` are taken, in that order. The teacher's recorder and the
    student's loss therefore pick the same images from the same training split. With ``exclude_holdout`` and
    a dataset that supports ``holdout`` (``CityscapesJointDataset``), the candidates are its ``part='train'``
    images (its own ``holdout`` settings, else :data:`DEFAULT_HOLDOUT`): a probe image is never a feedback
    image.

    :attr:`hash` (sha1 of the ordered keys and, with ``hash_content``, of the image files' bytes) identifies
    the probe set: a trajectory recorded on another probe set is rejected.

    Args:
        dataset (dict | BaseDataset): the training dataset config (its pipeline is replaced by
            ``pipeline``), or a built dataset (used as is).
        pipeline (list[dict], optional): the test pipeline. Required with a dataset config.
        num_images (int): M. Defaults to 16.
        seed (int): selection seed. Defaults to 0.
        batch_size (int): images per forward when the probe runs. Defaults to 16.
        exclude_holdout (bool): take the candidates from the ``part='train'`` images. Defaults to True.
        hash_content (bool): hash the files' bytes too (not only their paths). Defaults to True.
    """

    def __init__(self,
                 dataset: Any,
                 pipeline: Optional[List[dict]] = None,
                 num_images: int = 16,
                 seed: int = 0,
                 batch_size: int = 16,
                 exclude_holdout: bool = True,
                 hash_content: bool = True) -> None:
        if dataset is None:
            raise ValueError('ProbeSet needs the training dataset: set probe.dataset, e.g. probe=dict('
                             'dataset=_base_.train_dataloader.dataset, pipeline=_base_.test_pipeline)')
        if num_images < 1 or batch_size < 1:
            raise ValueError(f'ProbeSet needs num_images >= 1 and batch_size >= 1, got {num_images}, '
                             f'{batch_size}')
        self.num_images, self.seed, self.batch_size = int(num_images), int(seed), int(batch_size)
        self.exclude_holdout, self.hash_content = bool(exclude_holdout), bool(hash_content)
        if isinstance(dataset, (dict, ConfigDict)):
            if pipeline is None:
                raise ValueError('ProbeSet with a dataset config needs the test pipeline '
                                 "(probe.pipeline=...): the training pipeline's augmentation would change "
                                 'the probe images')
            dataset = self._dataset_cfg(dataset, pipeline)
        self._dataset_or_cfg = dataset
        self._dataset = None
        self._indices: List[int] = []
        self._keys: Optional[List[str]] = None
        self._hash = ''
        self._samples: Optional[List[dict]] = None

    @classmethod
    def from_config(cls, cfg: Config, **probe_cfg) -> 'ProbeSet':
        """Probe set of a training config: ``dataset`` defaults to ``train_dataloader.dataset``, ``pipeline``
        to the pipeline of ``test_dataloader`` (else ``val_dataloader``, else the ``test_pipeline``
        variable)."""
        args = {**PROBE_DEFAULTS, **probe_cfg}
        if args['dataset'] is None:
            train = cfg.get('train_dataloader')
            if not train or 'dataset' not in train:
                raise ValueError('the config has no train_dataloader.dataset to take the probe images from; '
                                 'set probe=dict(dataset=...)')
            args['dataset'] = train['dataset']
        if args['pipeline'] is None:
            for name in ('test_dataloader', 'val_dataloader'):
                loader = cfg.get(name)
                if loader and isinstance(loader.get('dataset'), dict) and loader['dataset'].get('pipeline'):
                    args['pipeline'] = loader['dataset']['pipeline']
                    break
            else:
                args['pipeline'] = cfg.get('test_pipeline')
        return cls(**args)

    # ----------------------------------------------------------------- building
    def _dataset_cfg(self, cfg: dict, pipeline: List[dict]) -> dict:
        cfg = copy.deepcopy(dict(cfg))
        while cfg.get('type') in WRAPPERS and 'dataset' in cfg:
            cfg = copy.deepcopy(dict(cfg['dataset']))
        cfg['pipeline'] = copy.deepcopy(list(pipeline))
        cfg['test_mode'] = True
        if self.exclude_holdout and _accepts_holdout(cfg.get('type')):
            cfg['holdout'] = {**DEFAULT_HOLDOUT, **dict(cfg.get('holdout') or {}), 'part': 'train'}
        return cfg

    @staticmethod
    def _key(path: str, root: Optional[str]) -> str:
        rel = osp.relpath(path, root) if root else path
        return path if rel.startswith('..') else rel

    def _build(self) -> None:
        if self._keys is not None:
            return
        ds = self._dataset_or_cfg
        if isinstance(ds, dict):
            ds = DATASETS.build(ds)
        if hasattr(ds, 'full_init'):
            ds.full_init()
        self._dataset = ds
        root = getattr(ds, 'data_root', None)
        keys = [self._key(ds.get_data_info(i)['img_path'], root) for i in range(len(ds))]
        if len(keys) < self.num_images:
            raise ValueError(f'the probe set needs {self.num_images} images; the dataset has {len(keys)}')
        ranked = sorted(range(len(keys)), key=lambda i: probe_rank(self.seed, keys[i]))
        self._indices = ranked[:self.num_images]
        self._keys = [keys[i] for i in self._indices]
        contents = None
        if self.hash_content:
            backend_args = getattr(ds, 'backend_args', None)
            contents = [fileio.get(ds.get_data_info(i)['img_path'], backend_args=backend_args)
                        for i in self._indices]
        self._hash = probe_hash(self._keys, contents)
        print_log(f'probe set: {self.num_images} images of {len(keys)} (seed {self.seed}), '
                  f'hash {self._hash[:12]}', logger='current')

    @property
    def paths(self) -> List[str]:
        """Image keys (paths relative to the dataset's ``data_root``), in probe order."""
        self._build()
        return list(self._keys)

    @property
    def hash(self) -> str:
        self._build()
        return self._hash

    def samples(self) -> List[dict]:
        """The probe images after the test pipeline (packed ``inputs``/``data_samples``), loaded once."""
        self._build()
        if self._samples is None:
            ds, samples = self._dataset, []
            for i in self._indices:
                data = ds.prepare_data(i) if hasattr(ds, 'prepare_data') else ds[i]
                if data is None:
                    raise RuntimeError('the test pipeline dropped probe image '
                                       f'{ds.get_data_info(i)["img_path"]}')
                samples.append(data)
            self._samples = samples
        return self._samples

    def batches(self) -> Iterator[dict]:
        """Collated batches (``pseudo_collate``) of at most ``batch_size`` probe images, in probe order."""
        samples = self.samples()
        for start in range(0, len(samples), self.batch_size):
            yield pseudo_collate(samples[start:start + self.batch_size])

    def meta(self) -> Dict[str, Any]:
        return dict(probe_paths=self.paths, probe_hash=self.hash, probe_seed=self.seed)
