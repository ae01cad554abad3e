"""MultiStreamDataset (wrap-around, metainfo, lazy init) and MultiStreamDataPreProcessor."""
import copy
import random

import numpy as np
import pytest
import torch
from mmengine.dataset import BaseDataset, pseudo_collate
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from jdbench.datasets import MultiStreamDataset
from jdbench.models import MultiStreamDataPreProcessor
from jdbench.registry import DATASETS, MODELS


@DATASETS.register_module(force=True)
class _ToyStream(BaseDataset):
    """``n`` items ``dict(tag=tag, idx=i)`` (no files, no pipeline)."""
    METAINFO = dict(classes=('road', 'car'))

    def __init__(self, n: int, tag: str, **kwargs) -> None:
        self.n, self.tag = n, tag
        super().__init__(serialize_data=False, **kwargs)

    def load_data_list(self):
        return [dict(tag=self.tag, idx=i) for i in range(self.n)]


def _streams(n_source=10, n_target=3, **kwargs):
    return MultiStreamDataset(streams=dict(source=dict(type='_ToyStream', n=n_source, tag='s'),
                                           target=dict(type='_ToyStream', n=n_target, tag='t')), **kwargs)


def test_items_pair_the_streams_and_the_short_one_wraps_once_per_pass():
    ds = _streams(seed=3)
    assert len(ds) == 10
    item = ds[4]
    assert set(item) == {'source', 'target'}
    assert (item['source']['tag'], item['source']['idx']) == ('s', 4)
    source = [ds.stream_index('source', i) for i in range(10)]
    target = [ds.stream_index('target', i) for i in range(10)]
    assert source == list(range(10))                      # the longest stream is read in order
    assert target[:3] == [0, 1, 2]                        # first pass in order
    for block in (target[3:6], target[6:9]):              # every later pass: each item once, permuted
        assert sorted(block) == [0, 1, 2]
    assert target[9] in (0, 1, 2)
    assert [ds[i]['target']['idx'] for i in range(10)] == target
    # deterministic: the same seed gives the same map in another build; another seed another map
    assert [_streams(seed=3).stream_index('target', i) for i in range(10)] == target
    long = [_streams(n_source=60, n_target=7, seed=s) for s in (0, 1)]
    assert ([long[0].stream_index('target', i) for i in range(60)] !=
            [long[1].stream_index('target', i) for i in range(60)])


def test_no_global_rng_is_used():
    random.seed(0), np.random.seed(0), torch.manual_seed(0)
    states = random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    ds = _streams(n_source=50, n_target=4)
    [ds[i] for i in range(len(ds))]
    assert random.getstate() == states[0]
    assert (np.random.get_state()[1] == states[1]).all()
    assert torch.equal(torch.get_rng_state(), states[2])


def test_metainfo_classes_check_and_lazy_init():
    other = _ToyStream(2, 'o', metainfo=dict(classes=('sky', )))
    with pytest.raises(ValueError, match="streams 'source' and 'target' have different classes"):
        MultiStreamDataset(streams=dict(source=_ToyStream(2, 's'), target=other))
    ds = MultiStreamDataset(streams=dict(source=_ToyStream(2, 's'), target=other), check_classes=False)
    assert ds.metainfo['classes'] == ('road', 'car')      # the first stream's
    lazy = MultiStreamDataset(streams=dict(a=dict(type='_ToyStream', n=2, tag='a', lazy_init=True),
                                           b=dict(type='_ToyStream', n=5, tag='b', lazy_init=True)),
                              lazy_init=True)
    assert not lazy.streams['a']._fully_initialized
    assert len(lazy) == 5 and lazy.streams['a']._fully_initialized
    assert lazy.get_data_info(3)['a']['idx'] == lazy.stream_index('a', 3)
    with pytest.raises(IndexError):
        lazy[5]


def _sample(h, w, depth):
    s = SegDataSample()
    s.gt_sem_seg = PixelData(data=torch.zeros(1, h, w, dtype=torch.int64))
    s.gt_depth_map = PixelData(data=torch.full((1, h, w), depth))
    return s


def test_preprocessor_applies_the_wrapped_one_to_each_stream():
    pre = MODELS.build(dict(type='MultiStreamDataPreProcessor',
                            preprocessor=dict(type='JointDataPreProcessor', mean=[10, 10, 10], std=[2, 2, 2],
                                              size=(4, 6))))
    assert isinstance(pre, MultiStreamDataPreProcessor)
    source = dict(inputs=torch.full((3, 4, 6), 20, dtype=torch.uint8), data_samples=_sample(4, 6, 5.))
    target = dict(inputs=torch.full((3, 3, 5), 30, dtype=torch.uint8), data_samples=_sample(3, 5, 7.))
    items = [dict(source=copy.deepcopy(source), target=copy.deepcopy(target)) for _ in range(2)]
    batch = pseudo_collate(items)                         # mmengine's default collate: per stream
    assert set(batch) == {'source', 'target'} and len(batch['target']['inputs']) == 2
    out = pre(batch, training=True)
    assert out['source']['inputs'].shape == out['target']['inputs'].shape == (2, 3, 4, 6)
    assert (out['source']['inputs'] == 5).all()
    assert (out['target']['inputs'][:, :, :3, :5] == 10).all()
    depth = out['target']['data_samples'][0].gt_depth_map.data[0]
    assert (depth[:3, :5] == 7).all() and (depth[3] == 0).all()    # training=True reached the wrapped one
    plain = pre(dict(inputs=[torch.zeros(3, 4, 6, dtype=torch.uint8)], data_samples=[_sample(4, 6, 1.)]))
    assert plain['inputs'].shape == (1, 3, 4, 6)          # a plain (val/test) batch as the wrapped one does
    assert pre._enable_normalize and pre.mean.flatten().tolist() == [10, 10, 10]   # read through
    with pytest.raises(ValueError, match=r"entries \['meta'\] are neither"):
        pre(dict(source=batch['source'], meta=[1]))
