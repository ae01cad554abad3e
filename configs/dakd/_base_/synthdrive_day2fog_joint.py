# SynthDrive day -> fog for the joint student (seg + depth; configs/dakd/jd_dakd_synthdrive_day2fog.py,
# docs/methods.md "Domain-adaptive joint distillation"). Like configs/_base_/datasets/synthdrive_day2fog.py, but
# the source is rendered in the Cityscapes layout, which carries depth (disparity + camera), so the source gives
# the joint student ground truth for both tasks:
#   source: style 'day', city 'A', seed 0, Cityscapes layout -> SynthDriveDataset with segmentation and metric
#           depth: the default SynthDrive data (configs/_base_/datasets/synthdrive.py: same root and rendering
#           arguments, so the same files), on which configs/teachers/{seg,depth}_synthdrive.py are trained;
#   target: style 'fog', city 'B', seed 1, Cityscapes layout: the target of every DAKD config (same root). Its
#           labels and depth are loaded in training (so a test can show that nothing reads them) and used only
#           by evaluation.
# val/test on the target (mIoU and depth metrics), source_val_dataloader on the source's val split.
img_size = (128, 256)  # (H, W)
num_train = 2000
num_val = 300
source_root = 'data/synthdrive'
target_root = 'data/synthdrive_fog_cityB'
source_generate = dict(num_train=num_train, num_val=num_val, size=img_size, seed=0, style='day')
target_generate = dict(num_train=num_train, num_val=num_val, size=img_size, seed=1, style='fog', city='B')
img_scale = (img_size[1], img_size[0])  # (W, H)
crop_size = img_size

source_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadJointAnnotations'),
    dict(type='RandomResizeDepth', scale=img_scale, ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
# Nothing here looks at the labels: RandomCrop keeps cat_max_ratio=1 (no label-dependent crop choice).
target_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadJointAnnotations'),
    dict(type='RandomResizeDepth', scale=img_scale, ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadJointAnnotations'),
    dict(type='PackSegInputs'),
]
_dataset = dict(type='SynthDriveDataset', label_set='trainid', depth_mode='metric')
source_train_dataset = dict(
    _dataset, data_root=source_root, split='train', generate=source_generate, pipeline=source_train_pipeline)
target_train_dataset = dict(
    _dataset, data_root=target_root, split='train', generate=target_generate, pipeline=target_train_pipeline)

train_dataloader = dict(
    batch_size=8,  # per stream
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='MultiStreamDataset',
        streams=dict(source=source_train_dataset, target=target_train_dataset),
        seed=0,
        check_classes=True))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(_dataset, data_root=target_root, split='val', generate=target_generate, pipeline=test_pipeline))
test_dataloader = val_dataloader
source_val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(_dataset, data_root=source_root, split='val', generate=source_generate, pipeline=test_pipeline))

val_evaluator = dict(type='JointMetric')
test_evaluator = val_evaluator
source_val_evaluator = val_evaluator
