"""The KITTI depth protocol of JointMetric: crops, cap, median / stereo scaling, per-image averaging.

Known answers: a hand-computed two-image example, parity with an independent numpy reference that follows the
steps of Monodepth2's ``evaluate_depth.py`` (written here from its description, not copied), invariants
(median scaling makes a scaled prediction exact), and the old defaults unchanged.
"""
import itertools
import math

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from jdbench.evaluation import (DEPTH_CROPS, DEPTH_METRICS, DEPTH_PROTOCOLS, STEREO_SCALE_FACTOR, JointMetric,
                                depth_crop_bounds, depth_crop_mask, depth_error_stats,
                                depth_metrics_from_stats, median_scale_ratio, scale_ratio_stats)

KITTI_METRICS = ('abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'd1', 'd2', 'd3')


_LOGGER_IDS = itertools.count()


@pytest.fixture(autouse=True)
def _fresh_logger(request):
    """A logger per test, so none writes to a stream captured (and closed) by an earlier test."""
    MMLogger.get_instance(f'kitti_protocol_{request.node.name}')


def _capture_log() -> None:
    """Tests that read the log with capsys: a logger writing to the captured stdout."""
    MMLogger.get_instance(f'kitti_protocol_capture_{next(_LOGGER_IDS)}')


def _sample(pred, gt) -> dict:
    return dict(pred_depth_map=dict(data=torch.as_tensor(np.asarray(pred, np.float32))[None]),
                gt_depth_map=dict(data=torch.as_tensor(np.asarray(gt, np.float32))[None]))


def _evaluate(metric: JointMetric, samples: list) -> dict:
    metric.process({}, samples)
    return metric.evaluate(len(samples))


# ------------------------------------------------------------------------------------------------ crops
def test_kitti_crop_bounds_by_hand():
    # 375x1242 (KITTI 2011_09_26): Garg rows 0.40810811*375 = 153.04 -> 153, 0.99189189*375 = 371.96 -> 371;
    # cols 0.03594771*1242 = 44.65 -> 44, 0.96405229*1242 = 1197.35 -> 1197.
    assert depth_crop_bounds((375, 1242), 'garg_kitti') == (153, 371, 44, 1197)
    # Eigen rows 0.3324324*375 = 124.66 -> 124, 0.91351351*375 = 342.57 -> 342; same columns.
    assert depth_crop_bounds((375, 1242), 'eigen_kitti') == (124, 342, 44, 1197)
    # 4x4: Garg rows [1.63 -> 1, 3.97 -> 3), cols [0.14 -> 0, 3.86 -> 3).
    mask = depth_crop_mask((4, 4), 'garg_kitti')
    expected = torch.zeros(4, 4, dtype=torch.bool)
    expected[1:3, 0:3] = True
    assert torch.equal(mask, expected)
    # a relative crop fits every size; the fixed NYUv2 crop does not
    assert DEPTH_CROPS['garg_kitti']['size'] is None and DEPTH_CROPS['eigen_nyu']['size'] == (480, 640)
    with pytest.raises(ValueError, match='defined on 480x640'):
        depth_crop_bounds((375, 1242), 'eigen_nyu')


# ---------------------------------------------------------------------------------- hand-computed example
# Image 1 (4x4), Garg crop = rows 1:3, cols 0:3. Inside it: gt 0 (invalid) and gt 90 (> the 80 m cap) drop
# out, leaving (gt, pred) = (2, 1), (4, 3), (6, 2), (8, 4). Outside the crop, pred 100 would be huge errors.
GT1 = [[5, 5, 5, 5],
       [2, 4, 0, 7],
       [6, 8, 90, 7],
       [5, 5, 5, 5]]
PRED1 = [[100, 100, 100, 100],
         [1, 3, 0.5, 100],
         [2, 4, 0.5, 100],
         [100, 100, 100, 100]]
# median(gt) = (4 + 6) / 2 = 5, median(pred) = (2 + 3) / 2 = 2.5 (numpy's mean-of-middle-two median; the lower
# median would give 2) -> ratio 2 -> pred 2, 6, 4, 8: pairs (2, 2), (4, 6), (6, 4), (8, 8).
#   abs_rel = (0 + 2/4 + 2/6 + 0) / 4 = 5/24       sq_rel = (0 + 4/4 + 4/6 + 0) / 4 = 5/12
#   rmse = sqrt((0 + 4 + 4 + 0) / 4) = sqrt(2)     rmse_log = sqrt(2 ln(1.5)^2 / 4) = ln(1.5) / sqrt(2)
#   max(p/g, g/p) = 1, 1.5, 1.5, 1 -> d1 = 2/4, d2 = d3 = 1 (1.5 < 1.25^2 = 1.5625)
EXP1 = dict(abs_rel=5 / 24, sq_rel=5 / 12, rmse=math.sqrt(2), rmse_log=math.log(1.5) / math.sqrt(2), d1=0.5,
            d2=1.0, d3=1.0)
# Image 2 (5x3), Garg crop = rows [2.04 -> 2, 4.96 -> 4), cols [0.11 -> 0, 2.89 -> 2): (gt, pred) = (10, 1),
# (20, 2), (30, 3), (79, 100). median(gt) = 25, median(pred) = 2.5 -> ratio 10 -> pred 10, 20, 30, 1000, and
# the clamp to [1e-3, 80] after scaling makes the last 80: only (79, 80) is wrong.
#   abs_rel = sq_rel = (1/79) / 4 = 1/316     rmse = sqrt(1 / 4) = 0.5     rmse_log = ln(80/79) / 2
#   d1 = d2 = d3 = 1
GT2 = [[0, 0, 0],
       [50, 50, 50],
       [10, 20, 50],
       [30, 79, 50],
       [50, 50, 50]]
PRED2 = [[9, 9, 9],
         [0.1, 0.1, 0.1],
         [1, 2, 0.1],
         [3, 100, 0.1],
         [9, 9, 9]]
EXP2 = dict(abs_rel=1 / 316, sq_rel=1 / 316, rmse=0.5, rmse_log=math.log(80 / 79) / 2, d1=1.0, d2=1.0, d3=1.0)
# Ratios [2, 10]: median 6; ratios / 6 = [1/3, 5/3], population std = (5/3 - 1/3) / 2 = 2/3.


def test_hand_computed_kitti_eigen(capsys):
    _capture_log()
    got = _evaluate(JointMetric(protocol='kitti_eigen'), [_sample(PRED1, GT1), _sample(PRED2, GT2)])
    for k in KITTI_METRICS:  # per-image averaging: the mean of the two images' metrics
        assert got[k] == pytest.approx((EXP1[k] + EXP2[k]) / 2, rel=1e-12), k
    assert got['rel_err'] == got['abs_rel']
    assert got['scale_ratio_med'] == pytest.approx(6.0) and got['scale_ratio_std'] == pytest.approx(2 / 3)
    assert got['depth_protocol.kitti_eigen'] == 1.0
    assert all(isinstance(v, float) for v in got.values())  # leaderboard tools float() every value
    log = capsys.readouterr().out
    assert 'Scaling ratios | med: 6.000 | std: 0.667' in log
    assert ("depth protocol 'kitti_eigen': valid 0.001 < gt < 80.0, crop 'garg_kitti' (rows [0.40810811H, "
            '0.99189189H), cols [0.03594771W, 0.96405229W)') in log
    assert "scaling 'median'" in log and 'prediction clamped to [0.001, 80]' in log
    assert "depth_average='image'" in log

    # pixel pooling of the same scaled pairs instead: sums over the 8 pixels
    got = _evaluate(JointMetric(depth_crop='garg_kitti', depth_scaling='median', depth_average='pixel'),
                    [_sample(PRED1, GT1), _sample(PRED2, GT2)])
    assert got['abs_rel'] == pytest.approx((2 / 4 + 2 / 6 + 1 / 79) / 8)
    assert got['rmse'] == pytest.approx(math.sqrt((4 + 4 + 1) / 8))
    assert got['d1'] == pytest.approx(6 / 8)
    assert 'depth_protocol.kitti_eigen' not in got and got['scale_ratio_med'] == pytest.approx(6.0)


# ------------------------------------------------------------------------------- the independent reference
GARG = (0.40810811, 0.99189189, 0.03594771, 0.96405229)
EIGEN = (0.3324324, 0.91351351, 0.0359477, 0.96405229)


def reference_eval(gts, preds, cap=80.0, gt_min=1e-3, crop=GARG, median=True, factor=1.0,
                   clamp=(1e-3, 80.0)):
    """Monodepth2's evaluation steps, straightforwardly in numpy (float64).

    Per image: mask ``gt_min < gt < cap`` (or ``gt > 0`` when ``cap`` is None) and the fractional crop (bounds
    ``astype(int32)``); keep the masked pixels; multiply the prediction by ``factor``; with ``median`` also by
    ``median(gt) / median(pred)`` (recorded); clip to ``clamp``; the 7 errors of the image. Then the mean of
    the per-image errors, and the ratios' median and ``std(ratios / median)``.
    """
    per_image, ratios = [], []
    for gt, pred in zip(gts, preds):
        gt, pred = np.asarray(gt, np.float64), np.asarray(pred, np.float64)
        h, w = gt.shape
        keep = (gt > gt_min) & (gt < cap) if cap is not None else gt > 0
        if crop is not None:
            r0, r1, c0, c1 = np.array([crop[0] * h, crop[1] * h, crop[2] * w, crop[3] * w]).astype(np.int32)
            inside = np.zeros((h, w), dtype=bool)
            inside[r0:r1, c0:c1] = True
            keep = keep & inside
        g = gt[keep]
        p = pred[keep] * factor
        if median:
            r = np.median(g) / np.median(p)
            ratios.append(r)
            p = p * r
        p = np.clip(p, clamp[0], clamp[1])
        worst = np.maximum(g / p, p / g)
        per_image.append([
            np.mean(np.abs(g - p) / g),
            np.mean((g - p)**2 / g),
            np.sqrt(np.mean((g - p)**2)),
            np.sqrt(np.mean((np.log(g) - np.log(p))**2)),
            np.mean(worst < 1.25),
            np.mean(worst < 1.25**2),
            np.mean(worst < 1.25**3),
        ])
    out = dict(zip(KITTI_METRICS, np.mean(np.array(per_image), axis=0)))
    if median:
        ratios = np.array(ratios)
        out['med'] = np.median(ratios)
        out['std'] = np.std(ratios / out['med'])
    return out


def _random_kitti_like(seed: int, sizes=((37, 121), (50, 160), (24, 80), (61, 203), (375, 1242))):
    """GT in (0.5, 95) m with ~30 % invalid zeros; predictions of an unknown scale, noisy, a few wild."""
    rng = np.random.default_rng(seed)
    gts, preds = [], []
    for h, w in sizes:
        gt = rng.uniform(0.5, 95.0, (h, w))  # ~16 % beyond the 80 m cap
        gt[rng.random((h, w)) < 0.3] = 0.0
        pred = np.where(gt > 0, gt, rng.uniform(1, 90, (h, w))) * rng.uniform(0.01, 0.2)  # monocular scale
        pred *= np.exp(rng.normal(0, 0.25, (h, w)))
        wild = rng.random((h, w)) < 0.02
        pred[wild] *= rng.choice([1e-4, 1e3], size=int(wild.sum()))  # hit both clamp bounds after scaling
        gts.append(gt.astype(np.float32))
        preds.append(pred.astype(np.float32))
    return gts, preds


def _through_evaluator(cfg: dict, gts, preds) -> dict:
    """A depth-only model's data samples (no seg prediction, no classes) through mmengine's Evaluator."""
    samples = []
    for gt, pred in zip(gts, preds):
        s = SegDataSample()
        s.set_data(dict(pred_depth_map=PixelData(data=torch.from_numpy(pred)[None]),
                        gt_depth_map=PixelData(data=torch.from_numpy(gt)[None])))
        samples.append(s)
    evaluator = Evaluator(dict(type='JointMetric', **cfg))
    evaluator.process(samples[:2])  # two batches, as a dataloader would
    evaluator.process(samples[2:])
    return evaluator.evaluate(len(samples))


@pytest.mark.parametrize('seed', [0, 1])
@pytest.mark.parametrize('case', [
    (dict(protocol='kitti_eigen'), dict()),
    (dict(protocol=dict(name='kitti_eigen_crop', base='kitti_eigen', depth_crop='eigen_kitti')),
     dict(crop=EIGEN)),
    (dict(protocol='kitti_eigen_stereo'), dict(median=False, factor=5.4)),
    (dict(protocol='kitti_eigen_benchmark'), dict(cap=None, crop=None)),
    (dict(depth_range=(1e-3, 50.0), depth_crop='garg_kitti', depth_scaling='median', depth_average='image'),
     dict(cap=50.0, clamp=(1e-3, 50.0))),
],
                         ids=['kitti_eigen', 'eigen_crop', 'stereo', 'benchmark', 'cap50'])
def test_parity_with_reference(seed, case):
    cfg, ref_kw = case
    gts, preds = _random_kitti_like(seed)
    got = _through_evaluator(cfg, gts, preds)
    ref = reference_eval(gts, preds, **ref_kw)
    for k in KITTI_METRICS:
        assert got[k] == pytest.approx(ref[k], rel=1e-6, abs=1e-9), k
    # the data are not trivial: errors are large enough for a bug to show
    assert 0.05 < got['abs_rel'] < 5 and 0 < got['d1'] < 1
    if ref_kw.get('median', True):
        assert got['scale_ratio_med'] == pytest.approx(ref['med'], rel=1e-6)
        assert got['scale_ratio_std'] == pytest.approx(ref['std'], rel=1e-6)
        assert 'scale_factor' not in got
    else:
        assert got['scale_factor'] == 5.4 and 'scale_ratio_med' not in got
    protocol = cfg.get('protocol')
    name = protocol if isinstance(protocol, str) else (protocol or {}).get('name')
    assert [k for k in got if k.startswith('depth_protocol.')] == ([f'depth_protocol.{name}'] if name else [])
    assert not any(k in got for k in ('mIoU', 'pixel_acc'))  # a depth-only model: depth keys only


def test_median_scaling_functional_parity():
    gts, preds = _random_kitti_like(3, sizes=((40, 130), (41, 131)))  # odd and even valid counts likely
    ref = reference_eval(gts, preds)
    ratios = [median_scale_ratio(p, g, (1e-3, 80.0), 'garg_kitti') for g, p in zip(gts, preds)]
    stats = [
        depth_error_stats(p, g, (1e-3, 80.0), True, 'garg_kitti', r) for g, p, r in zip(gts, preds, ratios)
    ]
    assert np.median(ratios) == pytest.approx(ref['med'], rel=1e-12)
    st = scale_ratio_stats(ratios)
    assert st['med'] == pytest.approx(ref['med']) and st['std'] == pytest.approx(ref['std'])
    assert st['num'] == 2
    assert st['raw_std'] == pytest.approx(np.std(ratios))
    got = depth_metrics_from_stats(np.stack(stats), 'image')
    assert all(got[k] == pytest.approx(ref[k], rel=1e-9) for k in KITTI_METRICS)


# --------------------------------------------------------------------------------------------- invariants
def test_median_scaling_makes_a_scaled_prediction_exact():
    rng = np.random.default_rng(7)
    scales = [0.02, 0.5, 3.0, 40.0]  # one unknown scale per image
    gts, preds = [], []
    for i, c in enumerate(scales):
        gt = rng.uniform(1.0, 79.0, (30 + i, 90 + 3 * i)).astype(np.float64)
        gt[rng.random(gt.shape) < 0.4] = 0.0
        pred = np.where(gt > 0, gt * c, rng.uniform(0.1, 5.0, gt.shape))  # junk where gt is invalid
        gts.append(gt)
        preds.append(pred)
    samples = [dict(pred_depth_map=dict(data=torch.from_numpy(p)[None]),
                    gt_depth_map=dict(data=torch.from_numpy(g)[None])) for g, p in zip(gts, preds)]
    got = _evaluate(JointMetric(protocol='kitti_eigen'), samples)
    for k in ('abs_rel', 'sq_rel', 'rmse', 'rmse_log'):
        assert got[k] == pytest.approx(0.0, abs=1e-12), k
    assert got['d1'] == got['d2'] == got['d3'] == 1.0
    # the ratios are 1 / c: 50, 2, 1/3, 1/40 -> median (2 + 1/3) / 2 = 7/6
    inv = np.array([1 / c for c in scales])
    assert got['scale_ratio_med'] == pytest.approx(7 / 6)
    assert got['scale_ratio_std'] == pytest.approx(np.std(inv / (7 / 6)))
    # without scaling the same predictions are badly wrong
    unscaled = _evaluate(JointMetric(depth_crop='garg_kitti', depth_average='image'), samples)
    assert unscaled['abs_rel'] > 0.5 and unscaled['d1'] < 0.3


def test_scale_ratio_spread():
    # ratios 1, 2, 4 (pred = gt, gt/2, gt/4): median 2; ratios / 2 = 0.5, 1, 2, mean 7/6;
    # variance = ((0.5 - 7/6)^2 + (1 - 7/6)^2 + (2 - 7/6)^2) / 3 = (4/9 + 1/36 + 25/36) / 3 = 7/18
    # -> std = sqrt(7/18) = 0.62361 (Monodepth2 prints 0.624)
    gt = np.full((4, 4), 10.0)
    metric = JointMetric(depth_scaling='median', depth_average='image')
    got = _evaluate(metric, [_sample(gt, gt), _sample(gt / 2, gt), _sample(gt / 4, gt)])
    assert got['scale_ratio_med'] == 2.0 and got['scale_ratio_std'] == pytest.approx(math.sqrt(7 / 18))
    assert got['abs_rel'] == 0.0
    # an image with no valid pixel has no ratio (Monodepth2 would get nan): skipped in the spread and averages
    empty = np.zeros((4, 4))
    got2 = _evaluate(JointMetric(depth_scaling='median', depth_average='image'),
                     [_sample(gt, gt), _sample(gt / 2, gt), _sample(gt / 4, gt), _sample(gt, empty)])
    assert got2 == got
    st = scale_ratio_stats([math.nan])
    assert st['num'] == 0 and math.isnan(st['med']) and math.isnan(st['std'])


def test_stereo_fixed_scale():
    # a stereo model predicts depth / 5.4 (trained with a 0.1 baseline): x5.4 restores it exactly
    gt = np.array([[2.0, 10.0], [30.0, 0.0]])
    got = _evaluate(JointMetric(depth_scaling=STEREO_SCALE_FACTOR, depth_average='image'),
                    [_sample(gt / 5.4, gt)])
    assert got['abs_rel'] == pytest.approx(0.0, abs=1e-7) and got['d1'] == 1.0
    assert got['scale_factor'] == 5.4 and 'scale_ratio_med' not in got
    # a fixed factor is not a median: pred = 2 gt / 5.4 -> x5.4 = 2 gt: abs_rel 1, sq_rel mean(g) = 14,
    # rmse sqrt(mean(g^2)) = sqrt((4 + 100 + 900) / 3), every ratio 2 -> d1 = d2 = d3 = 0 (2 > 1.25^3 = 1.953)
    got = _evaluate(JointMetric(protocol='kitti_eigen_stereo'), [_sample(2 * gt / 5.4, gt)])
    got_nocrop = _evaluate(JointMetric(depth_scaling=5.4, depth_average='image'), [_sample(2 * gt / 5.4, gt)])
    assert got_nocrop['abs_rel'] == pytest.approx(1.0) and got_nocrop['sq_rel'] == pytest.approx(14.0)
    assert got_nocrop['rmse'] == pytest.approx(math.sqrt(1004 / 3))
    assert (got_nocrop['d1'], got_nocrop['d2'], got_nocrop['d3']) == (0.0, 0.0, 0.0)
    # the 2x2 Garg crop is rows [0.8 -> 0, 1.98 -> 1), cols [0.07 -> 0, 1.93 -> 1): the gt = 2 pixel only
    assert got['abs_rel'] == pytest.approx(1.0) and got['rmse'] == pytest.approx(2.0)
    assert got['depth_protocol.kitti_eigen_stereo'] == 1.0 and DEPTH_PROTOCOLS['kitti_eigen_stereo'][
        'depth_scaling'] == 5.4


def test_benchmark_protocol_keeps_gt_beyond_the_cap_but_clamps_the_prediction():
    # annotated GT: every gt > 0 counts, even 85 m; the prediction is still clamped to 80
    gt = np.array([[85.0, 10.0, 0.0]])
    got = _evaluate(JointMetric(protocol='kitti_eigen_benchmark'), [_sample([[85.0, 10.0, 7.0]], gt)])
    # median(gt) = 47.5 = median(pred): ratio 1; pairs (85, 80), (10, 10): abs_rel = (5/85) / 2
    assert got['abs_rel'] == pytest.approx(5 / 85 / 2) and got['scale_ratio_med'] == 1.0


# ----------------------------------------------------------------------------------- defaults unchanged
def test_defaults_unchanged(capsys):
    _capture_log()
    metric = JointMetric()
    assert (metric.depth_range, metric.clamp_pred, metric.depth_crop, metric.depth_scaling,
            metric.depth_average, metric.protocol) == ((1e-3, 80.0), True, None, None, 'pixel', None)
    gts, preds = _random_kitti_like(5, sizes=((20, 30), (25, 31)))
    got = _evaluate(metric, [_sample(p, g) for g, p in zip(gts, preds)])
    assert set(got) == set(DEPTH_METRICS)  # no scale or protocol keys
    # pixel pooling, no crop, no scaling, clamp to (1e-3, 80): straight from the sums
    g = np.concatenate([x.ravel() for x in gts]).astype(np.float64)
    p = np.concatenate([x.ravel() for x in preds]).astype(np.float64)
    keep = (g > 1e-3) & (g < 80)
    g, p = g[keep], np.clip(p[keep], 1e-3, 80)
    assert got['abs_rel'] == pytest.approx(np.mean(np.abs(g - p) / g), rel=1e-9)
    assert got['rmse'] == pytest.approx(np.sqrt(np.mean((g - p)**2)), rel=1e-9)
    assert got['d1'] == pytest.approx(np.mean(np.maximum(g / p, p / g) < 1.25), rel=1e-12)
    log = capsys.readouterr().out
    assert 'depth protocol' not in log and 'Scaling ratios' not in log and 'depth options' not in log
    assert 'crop none, clamp_pred=True' in log
    # the protocol's options are exactly the same as setting them one by one, plus the name
    samples = [_sample(p, g) for g, p in zip(gts, preds)]
    by_name = _evaluate(JointMetric(protocol='kitti_eigen'), samples)
    by_hand = _evaluate(JointMetric(**DEPTH_PROTOCOLS['kitti_eigen']), samples)
    assert by_name.pop('depth_protocol.kitti_eigen') == 1.0 and by_name == by_hand


# ------------------------------------------------------------------------------------------- bad inputs
def test_bad_protocol_configs():
    with pytest.raises(ValueError, match="unknown depth protocol 'kitti'"):
        JointMetric(protocol='kitti')
    with pytest.raises(ValueError, match=r"sets the depth options, so \['depth_crop'\] must be left unset"):
        JointMetric(protocol='kitti_eigen', depth_crop='eigen_kitti')
    with pytest.raises(ValueError, match="needs a 'name'"):
        JointMetric(protocol=dict(base='kitti_eigen'))
    with pytest.raises(ValueError, match="needs a 'name'"):
        JointMetric(protocol=dict(name='my protocol'))
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['depth_cap'\]"):
        JointMetric(protocol=dict(name='p', depth_cap=80))
    with pytest.raises(ValueError, match="unknown base protocol 'kiti_eigen'"):
        JointMetric(protocol=dict(name='p', base='kiti_eigen'))
    with pytest.raises(ValueError, match='unknown depth crop'):
        JointMetric(protocol=dict(name='p', depth_crop='garg'))
    for bad in ('mean', 0, -5.4, math.inf, True):
        with pytest.raises(ValueError, match='depth_scaling must be None'):
            JointMetric(depth_scaling=bad)
    with pytest.raises(ValueError, match='clamp_pred must be'):
        JointMetric(clamp_pred='yes')
    with pytest.raises(ValueError, match='depth_range'):
        JointMetric(clamp_pred=(80.0, 1.0))
    with pytest.raises(ValueError, match='depth scale must be finite'):
        depth_error_stats(np.ones((2, 2)), np.ones((2, 2)), scale=0.0)


def test_median_scaling_rejects_non_positive_predictions():
    gt = np.full((3, 3), 10.0)
    with pytest.raises(ValueError, match=r'median prediction over the valid pixels is -1\.0; it must be > 0'):
        _evaluate(JointMetric(depth_scaling='median'), [_sample(-np.ones((3, 3)), gt)])
    with pytest.raises(ValueError, match='shape'):
        median_scale_ratio(np.ones((3, 4)), gt)
    assert math.isnan(median_scale_ratio(np.ones((3, 3)), np.zeros((3, 3))))
