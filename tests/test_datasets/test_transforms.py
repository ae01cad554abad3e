"""Image, labels and depth stay aligned through jdbench/mmseg geometric transforms; depth scales by 1/s."""
import numpy as np
import pytest
from mmcv.transforms import Compose
from mmcv.transforms import Resize as MMCVResize

from jdbench.datasets.transforms import RandomResizeDepth
from jdbench.registry import TRANSFORMS

H, W = 24, 40


def source(depth_mode='metric'):
    """Image whose B, G channels are the pixel's (y, x); labels and depth are functions of (y, x)."""
    y, x = np.mgrid[:H, :W]
    img = np.stack([y, x, np.full_like(y, 200)], -1).astype(np.uint8)
    depth = np.where(invalid(y, x), 0, code(y, x)).astype(np.float32)
    return dict(img=img, img_shape=(H, W), ori_shape=(H, W), gt_seg_map=label(y, x), gt_depth_map=depth,
                seg_fields=['gt_seg_map', 'gt_depth_map'], depth_mode=depth_mode)


def code(y, x):
    return 1 + y * W + x


def label(y, x):
    return (code(y, x) % 19).astype(np.uint8)


def invalid(y, x):
    return (y + 2 * x) % 7 == 0


def decode(img):
    return img[..., 0].astype(np.int64), img[..., 1].astype(np.int64)


@pytest.mark.parametrize('seed', [0, 4, 5, 7, 9])  # s = 1.30, 1.92, 0.80, 0.58, 0.5
def test_resize_crop_flip_keep_alignment(seed):
    pipeline = Compose([
        dict(type='RandomResizeDepth', scale=(W, H), ratio_range=(0.5, 2.0), keep_ratio=True,
             interpolation='nearest'),
        dict(type='RandomCrop', crop_size=(16, 24)),
        dict(type='RandomFlip', prob=1.0),
    ])
    np.random.seed(seed)
    out = pipeline(source())
    yy, xx = decode(out['img'])
    s = out['depth_img_scale']
    assert 0.5 <= s <= 2.0 and s == pytest.approx(np.sqrt(np.prod(out['scale_factor'])))  # input = base scale
    assert out['depth_scale_factor'] == pytest.approx(1 / s)
    assert out['img'].shape[:2] == out['gt_seg_map'].shape == out['gt_depth_map'].shape
    assert (xx[:, 0] >= xx[:, -1]).all()  # flipped
    np.testing.assert_array_equal(out['gt_seg_map'], label(yy, xx))
    expected = np.where(invalid(yy, xx), 0, code(yy, xx) / s)
    np.testing.assert_allclose(out['gt_depth_map'], expected, rtol=1e-6)
    assert out['gt_depth_map'].dtype == np.float32


def test_bilinear_image_nearest_depth():
    """Default (bilinear) image resize: depth stays nearest (source values / s), within 1 px of the image."""
    np.random.seed(3)
    t = TRANSFORMS.build(
        dict(type='RandomResizeDepth', scale=(W, H), ratio_range=(1.3, 1.3), keep_ratio=True))
    out = t(source())
    s = out['depth_img_scale']
    assert s == pytest.approx(1.3, abs=0.02)
    depth = out['gt_depth_map'].astype(np.float64) * s
    valid = depth > 0
    np.testing.assert_allclose(depth[valid], np.round(depth[valid]), atol=1e-3)  # no blended values
    src = np.round(depth[valid]).astype(np.int64) - 1
    yy, xx = decode(out['img'])
    assert np.abs(yy[valid] - src // W).max() <= 1 and np.abs(xx[valid] - src % W).max() <= 1


def test_disparity_scales_with_s_and_none_keeps_values():
    np.random.seed(0)
    t = RandomResizeDepth(scale=(W, H), ratio_range=(2.0, 2.0), keep_ratio=True, interpolation='nearest')
    out = t(source('disparity'))
    assert out['depth_img_scale'] == 2.0 and out['depth_scale_factor'] == 2.0
    np.testing.assert_array_equal(out['gt_depth_map'][::2, ::2], source()['gt_depth_map'] * 2)

    t = RandomResizeDepth(scale=(W, H), ratio_range=(2.0, 2.0), depth_scaling='none', interpolation='nearest')
    out = t(source())
    assert out['depth_img_scale'] == 2.0 and out['depth_scale_factor'] == 1.0
    np.testing.assert_array_equal(out['gt_depth_map'][::2, ::2], source()['gt_depth_map'])


def test_scale_is_relative_to_reference_resolution():
    # A 2x larger input (e.g. full-resolution Cityscapes) resized to the base scale: s = 1, depth unchanged.
    big = source()
    for key in ('img', 'gt_seg_map', 'gt_depth_map'):
        big[key] = np.repeat(np.repeat(big[key], 2, 0), 2, 1)
    t = RandomResizeDepth(scale=(W, H), ratio_range=(1.0, 1.0), keep_ratio=True, interpolation='nearest')
    out = t(big)
    assert out['img'].shape[:2] == (H, W) and out['depth_img_scale'] == 1.0
    np.testing.assert_array_equal(out['gt_depth_map'], source()['gt_depth_map'])
    # Two scales to sample between and no reference_scale: s is relative to the input size.
    t = RandomResizeDepth(scale=[(2 * W, 2 * H), (2 * W, 2 * H)], interpolation='nearest')
    out = t(source())
    assert out['depth_img_scale'] == 2.0
    np.testing.assert_array_equal(out['gt_depth_map'][::2, ::2], source()['gt_depth_map'] / 2)


def test_rejects_resize_that_ignores_seg_fields():
    with pytest.raises(TypeError, match='resizes every key in seg_fields'):
        RandomResizeDepth(scale=(W, H), ratio_range=(0.5, 2.0), resize_type=MMCVResize)
    with pytest.raises(ValueError, match='depth_scaling'):
        RandomResizeDepth(scale=(W, H), ratio_range=(0.5, 2.0), depth_scaling='linear')


def test_photometric_distortion_leaves_labels_and_depth():
    np.random.seed(0)
    res = source()
    out = TRANSFORMS.build(dict(type='PhotoMetricDistortion'))(dict(res, img=res['img'].copy()))
    assert not np.array_equal(out['img'], source()['img'])
    np.testing.assert_array_equal(out['gt_seg_map'], source()['gt_seg_map'])
    np.testing.assert_array_equal(out['gt_depth_map'], source()['gt_depth_map'])
