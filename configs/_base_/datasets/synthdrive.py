# SynthDrive: synthetic driving scenes (19 Cityscapes train-ID classes + metric depth) in the Cityscapes
# layout under `data_root`, rendered on first use by SynthDriveDataset when the folder is missing (or run
# `python tools/dataset_converters/synthdrive.py`).
#
# Overriding: mmengine evaluates this file on its own, so a child config that changes a top-level variable
# below must also re-assign the dicts that use it, e.g.
#   num_train = 500
#   data_root = 'data/synthdrive_n500'          # other rendering arguments -> other folder
#   train_dataloader = dict(dataset=dict(data_root=data_root, generate=dict(num_train=num_train)))
#   val_dataloader = dict(dataset=dict(data_root=data_root, generate=dict(num_train=num_train)))
#   test_dataloader = val_dataloader

# (data rendered with other arguments than requested are used with a warning).
dataset_type = 'SynthDriveDataset'
data_root = 'data/synthdrive'
img_size = (128, 256)  # (H, W) of the rendered images
num_train = 2000
num_val = 300
synth_seed = 0
synth_style = 'day'
generate = dict(num_train=num_train, num_val=num_val, size=img_size, seed=synth_seed, style=synth_style)
label_set = 'trainid'  # 19 train-ID classes; 'category' for the 7 Cityscapes categories
depth_mode = 'metric'  # z-depth in metres; 'disparity' for inverse depth (disparity in px, MTAN convention)
img_scale = (img_size[1], img_size[0])  # (W, H): training base scale and test resolution
crop_size = img_size  # (H, W)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadJointAnnotations'),
    # Scale augmentation: depth values are divided by the image scale s (disparity multiplied by s).
    dict(type='RandomResizeDepth', scale=img_scale, ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    # Annotations are loaded after Resize: metrics compare predictions and ground truth at the original size.
    dict(type='LoadJointAnnotations'),
    dict(type='PackSegInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        generate=generate,
        label_set=label_set,
        depth_mode=depth_mode,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        generate=generate,
        label_set=label_set,
        depth_mode=depth_mode,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='JointMetric')
test_evaluator = val_evaluator

# The feedback split of JointDistill's FeedbackHook: the training images held out of training (a distiller's
# train_dataloader.dataset then sets holdout=dict(part='train'); the one holdout default, 5% or at least 32
# images, lives in CityscapesJointDataset), under the test pipeline.
feedback_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False, seed=0),
    dataset=dict(train_dataloader['dataset'], holdout=dict(part='holdout'), pipeline=test_pipeline))
# The probe set of JointDistill's knowledge trajectory: 16 training images (never feedback images) under the
# test pipeline. Teachers record their trajectories on it and the distiller follows them on it.
probe_dataloader = dict(
    batch_size=16,
    dataset=dict(
        type='ProbeSubset',
        num_images=16,
        seed=0,
        dataset=dict(train_dataloader['dataset'], holdout=dict(part='train'), pipeline=test_pipeline)))
