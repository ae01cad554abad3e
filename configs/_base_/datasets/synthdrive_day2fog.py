# SynthDrive domain adaptation, day -> fog (docs/synthdrive.md, "Domains"). Both domains are rendered on first
# use, each in the file format of its real counterpart, so the real loaders read them:
#   source: style 'day', city 'A', in the GTA5 layout (images/NNNNN.png, labels/NNNNN.png in Cityscapes label
#           IDs, train.txt / val.txt) -> SynthDriveGTA5Dataset (a GTA5Dataset); labelled, segmentation only.
#   target: style 'fog', city 'B' (a denser downtown seen from a higher camera: a shift in geometry and
#           content, not only in appearance), in the Cityscapes layout -> SynthDriveDataset (a
#           CityscapesJointDataset); its labels (and depth) are used for evaluation only.
# train_dataloader yields {'source': ..., 'target': ...} items (MultiStreamDataset); val/test run on the
# target; source_val_dataloader gives the source mIoU. 19 Cityscapes train-ID classes in both domains.
#
# Overriding: mmengine evaluates this file on its own, so a child config that changes a top-level variable
# must re-assign the dicts that use it. E.g. an appearance-only shift (target city 'A'):
#   target_root = 'data/synthdrive_fog_cityA'
#   target_generate = dict(num_train=2000, num_val=300, size=(128, 256), seed=1, style='fog', city='A')
#   train_dataloader = dict(dataset=dict(streams=dict(target=dict(data_root=target_root,
#                                                                 generate=target_generate))))
#   val_dataloader = dict(dataset=dict(data_root=target_root, generate=target_generate))
#   test_dataloader = val_dataloader
img_size = (128, 256)  # (H, W) of the rendered images, both domains
num_train = 2000
num_val = 300
source_root = 'data/synthdrive_gta5_day_cityA'
target_root = 'data/synthdrive_fog_cityB'
# Different seeds: the target's scenes are not the source's scenes in other weather.
source_generate = dict(num_train=num_train, num_val=num_val, size=img_size, seed=0, style='day', city='A')
target_generate = dict(num_train=num_train, num_val=num_val, size=img_size, seed=1, style='fog', city='B')
img_scale = (img_size[1], img_size[0])  # (W, H): training base scale and test resolution
crop_size = img_size  # (H, W)

source_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadGTA5Annotations'),  # label IDs -> train IDs
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
# The target labels are loaded (so a test can show that training never reads them) but nothing in this
# pipeline looks at them: RandomCrop keeps cat_max_ratio=1 (no label-dependent crop choice).
target_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadJointAnnotations', with_depth=False),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
source_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    # Annotations are loaded after Resize: metrics compare predictions and ground truth at the original size.
    dict(type='LoadGTA5Annotations'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadJointAnnotations'),  # labels and metric depth (SynthDrive writes disparity + camera)
    dict(type='PackSegInputs'),
]

source_train_dataset = dict(
    type='SynthDriveGTA5Dataset',
    data_root=source_root,
    split='train',
    generate=source_generate,
    pipeline=source_train_pipeline)
target_train_dataset = dict(
    type='SynthDriveDataset',
    data_root=target_root,
    split='train',
    generate=target_generate,
    pipeline=target_train_pipeline)

train_dataloader = dict(
    batch_size=8,  # per stream: every iteration sees 8 source and 8 target images
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
    dataset=dict(
        type='SynthDriveDataset',
        data_root=target_root,
        split='val',
        generate=target_generate,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# The source's val split (source mIoU), e.g. for a second evaluation of the same checkpoint.
source_val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='SynthDriveGTA5Dataset',
        data_root=source_root,
        split='val',
        generate=source_generate,
        pipeline=source_test_pipeline))

val_evaluator = dict(type='JointMetric')
test_evaluator = val_evaluator
source_val_evaluator = val_evaluator
