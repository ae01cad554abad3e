"""Sequence transforms (resize with K, flip, Monodepth2's shared colour jitter, packing) and the sequence
pre-processor, on small arrays with known answers."""
import numpy as np
import pytest
import torch
from mmengine.runner import set_random_seed
from PIL import Image

from jdbench.datasets.transforms import (PackSequenceInputs, RandomFlipSequence, ResizeSequence,
                                         SequenceColorJitter)
from jdbench.datasets.transforms.sequence import adjust_contrast, adjust_hue, adjust_saturation
from jdbench.registry import MODELS, TRANSFORMS

H, W = 8, 12
K = np.array([[10, 0, 6, 0], [0, 10, 4, 0], [0, 0, 1, 0], [0, 0, 0, 1]], np.float32)


def frames(n=3, seed=0, shape=(H, W)):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (*shape, 3), dtype=np.uint8) for _ in range(n)]


def item(n=3, seed=0, **extra):
    return dict(imgs=frames(n, seed), K=K.copy(), frame_ids=(0, -1, 1)[:n], img_shape=(H, W),
                ori_shape=(H, W), **extra)


# ----------------------------------------------------------------------------------------------- resize
def test_resize_rescales_K_and_every_frame_but_not_the_ground_truth():
    depth = np.arange(H * W, dtype=np.float32).reshape(H, W)
    res = item(gt_depth_map=depth, imgs_aug=frames(3, 1))
    raw = [f.copy() for f in res['imgs']]
    out = ResizeSequence(scale=(24, 4))(res)
    np.testing.assert_array_equal(out['K'], [[20, 0, 12, 0], [0, 5, 2, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    assert out['img_shape'] == (4, 24) and out['scale_factor'] == (2.0, 0.5)
    for key in ('imgs', 'imgs_aug'):
        assert [f.shape for f in out[key]] == [(4, 24, 3)] * 3
    # Pillow's Lanczos (Monodepth2's ANTIALIAS) on each frame
    np.testing.assert_array_equal(out['imgs'][1], np.asarray(Image.fromarray(raw[1]).resize((24, 4),
                                                                                           Image.LANCZOS)))
    assert out['gt_depth_map'] is depth and out['ori_shape'] == (H, W)
    # two resizes compose: K follows the image
    out = ResizeSequence(scale=(6, 8))(out)
    np.testing.assert_allclose(out['K'][:2, :3], [[5, 0, 3], [0, 10, 4]])


# ------------------------------------------------------------------------------------------------- flip
def test_flip_flips_all_frames_and_ground_truth_and_keeps_K():
    depth = np.arange(H * W, dtype=np.float32).reshape(H, W)
    seg = (np.arange(H * W) % 19).astype(np.uint8).reshape(H, W)
    res = item(gt_depth_map=depth, gt_seg_map=seg, seg_fields=['gt_seg_map'], imgs_aug=frames(3, 1))
    raw, aug = [f.copy() for f in res['imgs']], [f.copy() for f in res['imgs_aug']]
    out = RandomFlipSequence(prob=1.0)(res)
    assert out['flip'] and out['flip_direction'] == 'horizontal'
    for f, r in zip(out['imgs'], raw):
        np.testing.assert_array_equal(f, r[:, ::-1])
    for f, r in zip(out['imgs_aug'], aug):
        np.testing.assert_array_equal(f, r[:, ::-1])
    np.testing.assert_array_equal(out['gt_depth_map'], depth[:, ::-1])
    np.testing.assert_array_equal(out['gt_seg_map'], seg[:, ::-1])
    np.testing.assert_array_equal(out['K'], K)
    out = RandomFlipSequence(prob=0.0)(item())
    assert not out['flip']
    np.testing.assert_array_equal(out['imgs'][0], frames()[0])


# ---------------------------------------------------------------------------------------------- jitter
def test_jitter_known_answer_on_every_frame_raw_frames_kept():
    """Brightness fixed at 0.5, the rest neutral: every frame becomes round(img * 0.5)."""
    jitter = SequenceColorJitter(prob=1.0, brightness=(0.5, 0.5), contrast=(1, 1), saturation=(1, 1),
                                 hue=(0, 0))
    res = item()
    raw = [f.copy() for f in res['imgs']]
    out = jitter(res)
    for f, a, r in zip(out['imgs'], out['imgs_aug'], raw):
        np.testing.assert_array_equal(f, r)  # raw frames untouched
        np.testing.assert_array_equal(a, np.rint(r.astype(np.float64) * 0.5).astype(np.uint8))


def test_jitter_is_the_same_on_every_frame_of_an_item_and_differs_across_items():
    jitter = SequenceColorJitter(prob=1.0)
    np.random.seed(0)
    same = frames(1)[0]
    out = jitter(dict(imgs=[same, same.copy(), same.copy()], K=K))
    assert out['color_jitter']['applied']
    assert not np.array_equal(out['imgs_aug'][0], same)
    np.testing.assert_array_equal(out['imgs_aug'][0], out['imgs_aug'][1])
    np.testing.assert_array_equal(out['imgs_aug'][0], out['imgs_aug'][2])
    # distinct frames: each is the one drawn jitter applied to it
    out = jitter(item())
    params = out['color_jitter']
    for f, a in zip(out['imgs'], out['imgs_aug']):
        np.testing.assert_array_equal(a, SequenceColorJitter.apply(f, params))
    # the next item draws other parameters
    other = jitter(item())['color_jitter']
    assert other['applied'] and other['brightness'] != params['brightness']
    for name in ('brightness', 'contrast', 'saturation'):
        assert 0.8 <= params[name] <= 1.2
    assert -0.1 <= params['hue'] <= 0.1 and sorted(params['order']) == [0, 1, 2, 3]


def test_jitter_probability_and_seeding():
    jitter = SequenceColorJitter()  # p = 0.5
    np.random.seed(1)
    applied = [jitter(item())['color_jitter']['applied'] for _ in range(400)]
    assert 160 < sum(applied) < 240
    res = SequenceColorJitter(prob=0.0)(item())
    assert not res['color_jitter']['applied']
    for f, a in zip(res['imgs'], res['imgs_aug']):
        np.testing.assert_array_equal(f, a)
        assert a is not f
    # mmengine's seeding makes it reproducible
    runs = []
    for _ in range(2):
        set_random_seed(7)
        runs.append([SequenceColorJitter(prob=1.0)(item())['imgs_aug'][0] for _ in range(3)])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_colour_operations_known_answers():
    img = np.zeros((1, 2, 3), np.float32)
    img[0, 1] = 200  # grey levels 0 and 200: mean 100
    np.testing.assert_allclose(adjust_contrast(img, 0.5)[0, :, 0], [50, 150], rtol=1e-6)
    red = np.zeros((1, 1, 3), np.float32)
    red[..., 2] = 255  # BGR
    np.testing.assert_allclose(adjust_saturation(red, 0.0), np.full((1, 1, 3), 0.299 * 255), rtol=1e-5)
    np.testing.assert_allclose(adjust_saturation(img, 1.7), img, atol=1e-4)  # grey: no saturation to change
    np.testing.assert_allclose(adjust_hue(red, 1 / 3), [[[0, 255, 0]]], atol=1e-3)  # red -> green
    np.testing.assert_allclose(adjust_hue(red, -1 / 3), [[[255, 0, 0]]], atol=1e-3)  # red -> blue
    rng = np.random.default_rng(0).uniform(0, 255, (4, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(adjust_hue(rng, 0.0), rng, atol=1e-3)


# ------------------------------------------------------------------------------------------------- pack
def test_pack_layout_raw_then_augmented():
    depth = np.arange(20, dtype=np.float32).reshape(4, 5)
    res = item(gt_depth_map=depth, gt_seg_map=np.ones((4, 5), np.uint8), imgs_aug=frames(3, 1),
               img_path='a.png', flip=False)
    res['ori_shape'] = (4, 5)
    out = PackSequenceInputs()(res)
    x, sample = out['inputs'], out['data_samples']
    assert x.dtype == torch.uint8 and x.shape == (18, H, W)
    for i in range(3):
        np.testing.assert_array_equal(x[3 * i:3 * i + 3].numpy(), res['imgs'][i].transpose(2, 0, 1))
        np.testing.assert_array_equal(x[9 + 3 * i:12 + 3 * i].numpy(), res['imgs_aug'][i].transpose(2, 0, 1))
    assert sample.frame_ids == (0, -1, 1) and sample.has_aug and sample.K == K.tolist()
    assert sample.img_shape == (H, W) and sample.ori_shape == (4, 5) and sample.img_path == 'a.png'
    assert sample.gt_depth_map.data.shape == (1, 4, 5) and sample.gt_depth_map.data.dtype == torch.float32
    assert sample.gt_sem_seg.data.dtype == torch.int64
    test = PackSequenceInputs()(dict(imgs=frames(1), K=K, frame_ids=(0, )))
    assert test['inputs'].shape == (3, H, W) and not test['data_samples'].has_aug


# ----------------------------------------------------------------------------------------- preprocessor
def test_sequence_preprocessor_float_rgb_per_frame():
    pack = PackSequenceInputs()
    items = [pack(item(seed=s, imgs_aug=frames(3, s + 10))) for s in range(2)]
    pre = MODELS.build(dict(type='SequenceDataPreProcessor'))
    batch = pre(dict(inputs=[i['inputs'] for i in items], data_samples=[i['data_samples'] for i in items]))
    x = batch['inputs']
    assert x.shape == (2, 18, H, W) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    raw = torch.stack([i['inputs'] for i in items]).double()
    for f in range(6):
        for c in range(3):
            torch.testing.assert_close(x[:, 3 * f + c].double(), raw[:, 3 * f + 2 - c] / 255, rtol=0,
                                       atol=1e-7)
    assert batch['data_samples'][0].batch_input_shape == (H, W)
    keep = MODELS.build(dict(type='SequenceDataPreProcessor', bgr_to_rgb=False))
    torch.testing.assert_close(keep(dict(inputs=[items[0]['inputs']]))['inputs'][0].double(), raw[0] / 255,
                               rtol=0, atol=1e-7)
    odd = pack(item(n=1))
    with pytest.raises(ValueError, match='different shapes'):
        pre(dict(inputs=[items[0]['inputs'], odd['inputs']], data_samples=None))


def test_transforms_are_registered():
    for name in ('LoadSequenceFromFile', 'ResizeSequence', 'RandomFlipSequence', 'SequenceColorJitter',
                 'PackSequenceInputs'):
        assert TRANSFORMS.get(name) is not None
