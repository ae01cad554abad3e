"""Shared parts of the Domain Adaptive KD tests (no tests here): tiny multi-level segmentors, teachers and
two-stream batches."""
import copy
from typing import Optional

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapperDict
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from jdbench.engine.optimizers import MultiOptimWrapperConstructor
from jdbench.registry import MODELS

NUM_CLASSES = 5
NORM = dict(type='BN', requires_grad=True)
PRE = dict(type='JointDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
           bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size_divisor=32)
CE = dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0, avg_non_ignore=True)


def segmentor(base: int = 8, fpn: int = 16, num_classes: int = NUM_CLASSES, aux: bool = True, **kw) -> dict:
    """A slim ResNet-18 + FPN MultiLevelSegmentor: final FCN head on FPN level 0, 1×1 aux head on stage 3."""
    cfg = dict(
        type='MultiLevelSegmentor', data_preprocessor=PRE,
        backbone=dict(type='ResNetV1c', depth=18, base_channels=base, stem_channels=base, num_stages=4,
                      out_indices=(0, 1, 2, 3), strides=(1, 2, 2, 2), norm_cfg=NORM, contract_dilation=True),
        neck=dict(type='mmdet.FPN', in_channels=[base, 2 * base, 4 * base, 8 * base], out_channels=fpn,
                  num_outs=4),
        decode_head=dict(type='FCNHead', in_channels=fpn, in_index=0, channels=fpn, num_convs=1,
                         concat_input=False, dropout_ratio=0., num_classes=num_classes, norm_cfg=NORM,
                         align_corners=False, loss_decode=CE),
        aux_head=dict(type='FCNHead', in_channels=4 * base, in_index=2, channels=4 * base, num_convs=0,
                      concat_input=False, dropout_ratio=0., num_classes=num_classes, align_corners=False,
                      loss_decode=CE) if aux else None)
    cfg.update(kw)
    return cfg


def save_teacher(path, seed: int = 1, **kw) -> nn.Module:
    """A random-weight teacher (base 16) with non-default BN statistics, saved as ``{'state_dict'}``."""
    torch.manual_seed(seed)
    model = MODELS.build(segmentor(base=16, **kw))
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.9, 1.1)
    torch.save({'state_dict': model.state_dict()}, str(path))
    return model


def teacher_cfg(path, **kw) -> dict:
    return dict(type='MultiLevelTeacher', config=segmentor(base=16, **kw), checkpoint=str(path))


def build(kind: str = 'DAKD', teacher_path=None, seed: int = 0, student: Optional[dict] = None, **kw) -> nn.Module:
    torch.manual_seed(seed)
    cfg = dict(type=kind, student=student or segmentor(), **kw)
    if kind == 'DAKD':
        cfg.setdefault('teachers', dict(seg=teacher_cfg(teacher_path)))
    return MODELS.build(cfg)


def stream(n: int = 2, h: int = 64, w: int = 64, seed: int = 0, labels: bool = True,
           num_classes: int = NUM_CLASSES) -> dict:
    """A data-loader batch: uint8 images and samples (with ``gt_sem_seg`` when ``labels``)."""
    gen = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(0, 256, (3, h, w), generator=gen, dtype=torch.uint8) for _ in range(n)]
    samples = []
    for _ in range(n):
        s = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
        if labels:
            s.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, h, w), generator=gen))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def two_streams(seed: int = 0, **kw) -> dict:
    return dict(source=stream(seed=seed, **kw), target=stream(seed=seed + 100, **kw))


def preprocess(model: nn.Module, data: dict) -> dict:
    return model.data_preprocessor(copy.deepcopy(data), True)


def optim_wrappers(model: nn.Module, lr: float = 0.05) -> OptimWrapperDict:
    return MultiOptimWrapperConstructor(dict(
        student=dict(type='WeightedOptimWrapper', modules='*',
                     optimizer=dict(type='SGD', lr=lr, momentum=0.9)),
        discriminator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3, betas=(0.9, 0.99)))))(model)


def params(module: nn.Module) -> dict:
    return {n: p.detach().clone() for n, p in module.named_parameters()}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
