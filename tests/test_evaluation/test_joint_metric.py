"""JointMetric: parity with mmseg IoUMetric, hand-computed depth metrics, task inference, bad inputs."""
import math

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import PixelData
from mmseg.evaluation import IoUMetric
from mmseg.structures import SegDataSample

from jdbench.evaluation import JointMetric, depth_error_stats, depth_metrics_from_stats
from jdbench.registry import METRICS

CLASSES = ('road', 'car', 'sky', 'tree', 'person', 'bike')


def _seg_sample(pred: torch.Tensor, gt: torch.Tensor) -> dict:
    return dict(pred_sem_seg=dict(data=pred[None]), gt_sem_seg=dict(data=gt[None]))


def _depth_sample(pred, gt) -> dict:
    return dict(pred_depth_map=dict(data=torch.tensor(pred, dtype=torch.float32)[None]),
                gt_depth_map=dict(data=torch.tensor(gt, dtype=torch.float32)[None]))


def _evaluate(metric: JointMetric, samples: list) -> dict:
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def _random_seg_samples(seed: int = 0, num: int = 5) -> list:
    """Predictions in classes 0-3 with ~10 % ignore pixels; gt never has 'tree' (3); nobody has 4 or 5."""
    g = torch.Generator().manual_seed(seed)
    samples = []
    for i in range(num):
        h, w = 13 + i, 17
        gt = torch.randint(0, 3, (h, w), generator=g).to(torch.uint8)
        gt[torch.rand(h, w, generator=g) < 0.1] = 255
        pred = torch.where(torch.rand(h, w, generator=g) < 0.6, gt.long().clamp(max=2),
                           torch.randint(0, 4, (h, w), generator=g))
        samples.append(_seg_sample(pred, gt))
    return samples


# ----------------------------------------------------------------------------------------- segmentation
@pytest.mark.parametrize('seed', [0, 1])
def test_seg_parity_with_mmseg_iou_metric(seed):
    samples = _random_seg_samples(seed)
    ref = IoUMetric(ignore_index=255)
    ref.dataset_meta = dict(classes=CLASSES)
    expected = _evaluate(ref, samples)

    ours = METRICS.build(dict(type='JointMetric', per_class=True))
    ours.dataset_meta = dict(classes=CLASSES)
    got = _evaluate(ours, samples)

    assert set(got) == {'mIoU', 'pixel_acc'} | {f'IoU.{c}' for c in CLASSES}
    # mmseg rounds float32 percentages to 2 decimals; ours are the same rounding of exact counts.
    assert got['mIoU'] == pytest.approx(float(expected['mIoU']), abs=1e-4)
    assert got['pixel_acc'] == pytest.approx(float(expected['aAcc']), abs=1e-4)
    assert got['IoU.tree'] == 0.0  # predicted but never in gt -> 0, counted in the mean
    assert math.isnan(got['IoU.person']) and math.isnan(got['IoU.bike'])  # absent -> nan, skipped
    present = [got[f'IoU.{c}'] for c in CLASSES[:4]]
    assert got['mIoU'] == pytest.approx(np.mean(present), abs=0.006)


def test_seg_known_values_and_num_classes_arg():
    # gt: [0 0 1 1 255], pred: [0 1 1 1 0] -> cm[[1,1],[0,2]]; IoU0 = 1/2, IoU1 = 2/3; acc = 3/4
    gt = torch.tensor([[0, 0, 1, 1, 255]])
    pred = torch.tensor([[0, 1, 1, 1, 0]])
    metric = JointMetric(num_classes=2, seg_decimals=None, per_class=True)
    got = _evaluate(metric, [_seg_sample(pred, gt)])
    assert got['pixel_acc'] == pytest.approx(75.0)
    assert got['mIoU'] == pytest.approx(100 * (1 / 2 + 2 / 3) / 2)
    assert got['IoU.0'] == pytest.approx(50.0) and got['IoU.1'] == pytest.approx(200 / 3)
    assert not any(k in got for k in ('abs_err', 'delta_m'))  # segmentation-only samples


def test_per_class_off_by_default_and_nan_to_num():
    samples = _random_seg_samples(3)
    metric = JointMetric(nan_to_num=0)
    metric.dataset_meta = dict(classes=CLASSES)
    got = _evaluate(metric, samples)
    assert set(got) == {'mIoU', 'pixel_acc'}
    ref = IoUMetric(nan_to_num=0)
    ref.dataset_meta = dict(classes=CLASSES)
    assert got['mIoU'] == pytest.approx(float(_evaluate(ref, samples)['mIoU']), abs=1e-4)


# ------------------------------------------------------------------------------------------------ depth
# Image A: valid pixels (gt, pred) = (2, 1.1), (4, 4.5); gt 0 (invalid) and gt 100 (> 80) are masked.
DEPTH_A = dict(gt=[[2.0, 4.0], [0.0, 100.0]], pred=[[1.1, 4.5], [3.0, 3.0]])
# Image B: valid (1, 1.5), (10, 10), (20, 100 -> clamped to 80); gt 0 masked.
DEPTH_B = dict(gt=[[1.0, 10.0], [20.0, 0.0]], pred=[[1.5, 10.0], [100.0, 7.0]])
# Per valid pixel: (|diff|, |diff|/d, diff^2/d, diff^2, log-ratio, max ratio)
PIX_A = [(0.9, 0.45, 0.81 / 2, 0.81, math.log(1.1 / 2), 2 / 1.1),
         (0.5, 0.125, 0.0625, 0.25, math.log(1.125), 1.125)]
PIX_B = [(0.5, 0.5, 0.25, 0.25, math.log(1.5), 1.5),
         (0, 0, 0, 0, 0, 1.0),
         (60, 3.0, 180.0, 3600.0, math.log(4), 4.0)]


def _expected_depth(pixels):
    n = len(pixels)
    mean = lambda i: sum(p[i] for p in pixels) / n  # noqa: E731
    frac = lambda t: sum(p[5] < t for p in pixels) / n  # noqa: E731
    return dict(abs_err=mean(0), rel_err=mean(1), abs_rel=mean(1), sq_rel=mean(2), rmse=math.sqrt(mean(3)),
                rmse_log=math.sqrt(sum(p[4]**2 for p in pixels) / n), d1=frac(1.25), d2=frac(1.25**2),
                d3=frac(1.25**3))


def test_depth_hand_values_pixel_average():
    got = _evaluate(JointMetric(depth_average='pixel'), [_depth_sample(**DEPTH_A), _depth_sample(**DEPTH_B)])
    assert got['abs_err'] == pytest.approx((0.9 + 0.5 + 0.5 + 0 + 60) / 5)
    assert got['rmse'] == pytest.approx(math.sqrt((0.81 + 0.25 + 0.25 + 3600) / 5))
    assert (got['d1'], got['d2'], got['d3']) == pytest.approx((2 / 5, 3 / 5, 4 / 5))
    assert got == pytest.approx(_expected_depth(PIX_A + PIX_B))
    assert not any(k in got for k in ('mIoU', 'pixel_acc'))  # depth-only samples


def test_depth_hand_values_image_average():
    got = _evaluate(JointMetric(depth_average='image'), [_depth_sample(**DEPTH_A), _depth_sample(**DEPTH_B)])
    assert got['abs_err'] == pytest.approx(((0.9 + 0.5) / 2 + (0.5 + 0 + 60) / 3) / 2)
    assert got['rmse'] == pytest.approx((math.sqrt((0.81 + 0.25) / 2) + math.sqrt((0.25 + 3600) / 3)) / 2)
    assert (got['d1'], got['d2'], got['d3']) == pytest.approx(((1 / 2 + 1 / 3) / 2, (1 / 2 + 2 / 3) / 2,
                                                               (1 + 2 / 3) / 2))
    ea, eb = _expected_depth(PIX_A), _expected_depth(PIX_B)
    assert got == pytest.approx({k: (ea[k] + eb[k]) / 2 for k in ea})


def test_depth_range_clamp_and_invalid_zero():
    # No clamping: B's third pixel keeps pred 100 -> |diff| 80.
    got = _evaluate(JointMetric(clamp_pred=False), [_depth_sample(**DEPTH_B)])
    assert got['abs_err'] == pytest.approx((0.5 + 0 + 80) / 3)
    # A wider range admits A's gt=100 pixel (pred 3); gt == 0 stays invalid even with min 0.
    got = _evaluate(JointMetric(depth_range=(0.0, 200.0)), [_depth_sample(**DEPTH_A)])
    assert got['abs_err'] == pytest.approx((0.9 + 0.5 + 97) / 3)
    # A narrower range (2, 80) keeps only the gt=4 pixel (strict bounds), pred clamped into range.
    got = _evaluate(JointMetric(depth_range=(2.0, 80.0)), [_depth_sample(**DEPTH_A)])
    assert got['abs_err'] == pytest.approx(0.5) and got['d1'] == 1.0


def test_depth_image_average_skips_images_without_valid_pixels():
    empty = dict(gt=[[0.0, 0.0]], pred=[[1.0, 1.0]])
    got = _evaluate(JointMetric(depth_average='image'), [_depth_sample(**DEPTH_A), _depth_sample(**empty)])
    assert got == pytest.approx(_expected_depth(PIX_A))
    stats = depth_error_stats(torch.ones(1, 2, 2), torch.zeros(1, 2, 2))
    assert stats[0] == 0 and all(math.isnan(v) for v in depth_metrics_from_stats(stats).values())


def test_results_are_small_sufficient_statistics():
    metric = JointMetric(num_classes=2)
    gt = torch.zeros(64, 64, dtype=torch.long)
    sample = dict(**_seg_sample(gt, gt), **_depth_sample(np.full((64, 64), 5.0), np.full((64, 64), 4.0)))
    metric.process({}, [sample, sample])
    assert len(metric.results) == 2
    assert metric.results[0]['seg'].shape == (2, 2) and metric.results[0]['depth'].shape == (9, )


# ----------------------------------------------------------------------------------------- joint and Δm
def test_joint_sample_and_delta_m():
    # seg: mIoU = (1/2 + 2/3) / 2 = 58.33 %, pixel_acc 75 %; depth (pixel, A+B): abs_err 12.38
    gt = torch.tensor([[0, 0, 1, 1, 255]])
    pred = torch.tensor([[0, 1, 1, 1, 0]])
    reference = dict(mIoU=50.0, pixel_acc=75.0, abs_err=12.38 * 1.25)
    metric = JointMetric(num_classes=2, reference=reference)
    got = _evaluate(metric, [dict(**_seg_sample(pred, gt), **_depth_sample(**DEPTH_A)),
                             dict(**_seg_sample(pred, gt), **_depth_sample(**DEPTH_B))])
    assert got['mIoU'] == 58.33 and got['pixel_acc'] == 75.0 and got['abs_err'] == pytest.approx(12.38)
    expected = (100 * (58.33 - 50) / 50 + 0.0 + 100 * (1 - 1 / 1.25)) / 3
    assert got['delta_m'] == pytest.approx(expected)
    assert all(isinstance(v, float) for v in got.values())


def test_single_task_delta_m_uses_present_task_only():
    reference = dict(mIoU=50.0, pixel_acc=75.0, abs_err=1.0, rel_err=0.5)
    # depth-only teacher: Δm over abs_err, rel_err of image A with pixel average (0.7 and 0.2875)
    got = _evaluate(JointMetric(reference=reference), [_depth_sample(**DEPTH_A)])
    assert got['delta_m'] == pytest.approx((100 * (1 - 0.7) / 1.0 + 100 * (0.5 - 0.2875) / 0.5) / 2)
    # seg-only model: Δm over mIoU, pixel_acc
    gt = torch.tensor([[0, 0, 1, 1, 255]])
    got = _evaluate(JointMetric(num_classes=2, reference=reference), [_seg_sample(gt.clone(), gt)])
    assert got['mIoU'] == 100.0 and got['delta_m'] == pytest.approx((100.0 + 100 / 3) / 2)


def test_gt_on_other_task_only_is_ignored():
    # a depth teacher on a joint dataset: gt_sem_seg present, no pred_sem_seg -> no seg metrics
    sample = dict(**_depth_sample(**DEPTH_A), gt_sem_seg=dict(data=torch.zeros(1, 2, 2, dtype=torch.long)))
    got = _evaluate(JointMetric(), [sample])
    assert 'mIoU' not in got and got['abs_err'] == pytest.approx(0.7)


def test_through_mmengine_evaluator_with_data_samples():
    sample = SegDataSample()
    sample.pred_sem_seg = PixelData(data=torch.tensor([[[0, 1, 1, 1, 0]]]))
    sample.gt_sem_seg = PixelData(data=torch.tensor([[[0, 0, 1, 1, 255]]], dtype=torch.uint8))
    sample.set_data(dict(pred_depth_map=PixelData(data=torch.tensor([[[1.1, 4.5]]])),
                         gt_depth_map=PixelData(data=torch.tensor([[[2.0, 4.0]]]))))
    evaluator = Evaluator(dict(type='JointMetric', num_classes=2, reference=dict(mIoU=58.33, abs_err=0.7)))
    evaluator.process([sample])
    got = evaluator.evaluate(1)
    assert got['mIoU'] == 58.33 and got['pixel_acc'] == 75.0
    assert got['abs_err'] == pytest.approx(0.7) and got['delta_m'] == pytest.approx(0.0, abs=1e-4)


# ------------------------------------------------------------------------------------------- bad inputs
def test_bad_inputs():
    metric = JointMetric(num_classes=3)
    with pytest.raises(ValueError, match='shape'):
        metric.process({}, [_seg_sample(torch.zeros(4, 5, dtype=torch.long),
                                        torch.zeros(4, 6, dtype=torch.long))])
    with pytest.raises(ValueError, match='shape'):
        metric.process({}, [_depth_sample(np.ones((2, 3)), np.ones((3, 2)))])
    with pytest.raises(ValueError, match='NaN'):
        metric.process({}, [_depth_sample([[1.0, float('nan')]], [[1.0, 2.0]])])
    with pytest.raises(ValueError, match='outside'):
        metric.process({}, [_seg_sample(torch.tensor([[0, 3]]), torch.tensor([[0, 1]]))])
    with pytest.raises(ValueError, match='outside'):
        metric.process({}, [_seg_sample(torch.tensor([[0, 1]]), torch.tensor([[0, 7]]))])
    with pytest.raises(ValueError, match='num_classes or dataset_meta'):
        JointMetric().process({}, [_seg_sample(torch.zeros(1, 2, dtype=torch.long),
                                               torch.zeros(1, 2, dtype=torch.long))])


def test_bad_config():
    with pytest.raises(ValueError, match='depth_average'):
        JointMetric(depth_average='batch')
    with pytest.raises(ValueError, match='depth_range'):
        JointMetric(depth_range=(-1.0, 10.0))
    with pytest.raises(ValueError, match='known metrics'):
        JointMetric(reference=dict(miou=50.0))
