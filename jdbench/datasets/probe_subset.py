"""The probe set of JointDistill's knowledge trajectory: M fixed training images under the test pipeline."""
import copy
import hashlib
import os.path as osp
from typing import Any, List, Optional, Sequence, Union

import mmengine.fileio as fileio
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from jdbench.registry import DATASETS


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


@DATASETS.register_module()
class ProbeSubset:
    """``num_images`` images of ``dataset``, chosen by a seeded hash of their paths, in that order.

    Every image gets the key ``relpath(img_path, data_root)`` and images are ranked by
    ``sha1(f'probe/{seed}/{key}')``: the choice depends only on the keys and the seed, not on their order or the
    machine, so a teacher's recorder and the student's run pick the same images. Give ``dataset`` the test
    pipeline (no augmentation) and, for a dataset with a feedback holdout, ``holdout=dict(part='train')`` (a
    probe image is then never a feedback image).

    :attr:`hash` (sha1 of the ordered keys and of the image files' bytes) identifies the probe set: a trajectory
    recorded on another probe set is rejected.

    Args:
        dataset (dict | BaseDataset): the dataset to draw from (built in test mode).
        num_images (int): M. Defaults to 16.
        seed (int): selection seed. Defaults to 0.
    """

    def __init__(self, dataset: Union[dict, BaseDataset], num_images: int = 16, seed: int = 0) -> None:
        if num_images < 1:
            raise ValueError(f'ProbeSubset needs num_images >= 1, got {num_images}')
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dict(copy.deepcopy(dataset), test_mode=True))
        if hasattr(dataset, 'full_init'):
            dataset.full_init()
        self.dataset, self.num_images, self.seed = dataset, int(num_images), int(seed)
        root = getattr(dataset, 'data_root', None)
        keys = [self._key(dataset.get_data_info(i)['img_path'], root) for i in range(len(dataset))]
        if len(keys) < self.num_images:
            raise ValueError(f'the probe set needs {self.num_images} images; the dataset has {len(keys)}: lower '
                             'num_images or render more training images')
        self.indices: List[int] = sorted(range(len(keys)), key=lambda i: probe_rank(self.seed, keys[i]))
        self.indices = self.indices[:self.num_images]
        #: image keys (paths relative to the dataset's ``data_root``), in probe order
        self.keys = [keys[i] for i in self.indices]
        backend_args = getattr(dataset, 'backend_args', None)
        contents = [fileio.get(dataset.get_data_info(i)['img_path'], backend_args=backend_args)
                    for i in self.indices]
        self.hash = probe_hash(self.keys, contents)
        print_log(f'probe set: {self.num_images} images of {len(keys)} (seed {self.seed}), hash {self.hash[:12]}',
                  logger='current')

    @staticmethod
    def _key(path: str, root: Optional[str]) -> str:
        rel = osp.relpath(path, root) if root else path
        return path if rel.startswith('..') else rel

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self.dataset.metainfo)

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(self.indices[idx])

    def __len__(self) -> int:
        return self.num_images

    def __getitem__(self, idx: int) -> Any:
        data = self.dataset.prepare_data(self.indices[idx])
        if data is None:
            raise RuntimeError(f'the test pipeline dropped probe image {self.get_data_info(idx)["img_path"]}')
        return data
