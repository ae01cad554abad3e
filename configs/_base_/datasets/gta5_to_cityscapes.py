# GTA5 -> Cityscapes domain adaptation (AdaptSegNet, DAKD): labelled source GTA5, unlabelled target
# Cityscapes, 19 Cityscapes train-ID classes. Data (docs/datasets.md, "GTA5 and BDD100K"):
#   data/gta5/images/NNNNN.png, data/gta5/labels/NNNNN.png (Cityscapes label IDs; mapped to train IDs by
#   LoadGTA5Annotations; missing pairs of the release are skipped with a warning and a count);
#   data/cityscapes in the layout of configs/_base_/datasets/cityscapes.py (CityscapesJointDataset: it also
#   needs disparity/ and camera/, see docs/datasets.md).
# train_dataloader yields {'source': ..., 'target': ...} items (MultiStreamDataset); val/test run on
# Cityscapes val; source_val_dataloader evaluates on GTA5 (a split file, if any, else every pair).
# Resolutions follow AdaptSegNet: GTA5 resized to 1280x720, Cityscapes to 1024x512, no crop or flip, batch 1;
# Cityscapes val is fed at 1024x512 and scored at its full 2048x1024 (labels are loaded after Resize).
#
# A child config that changes a top-level variable must re-assign the dicts that use it (mmengine evaluates
# this file on its own), e.g. split_file='train.txt' -> train_dataloader = dict(dataset=dict(streams=dict(
# source=dict(split_file=split_file)))).
source_root = 'data/gta5'
target_root = 'data/cityscapes'
split_file = None  # e.g. 'train.txt' (AdaptSegNet's gta5_list/train.txt, file names one per line)
source_val_split_file = None
source_scale = (1280, 720)  # (W, H)
target_scale = (1024, 512)  # (W, H)

source_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadGTA5Annotations'),
    dict(type='Resize', scale=source_scale, keep_ratio=False),
    dict(type='PackSegInputs'),
]
# Target labels are loaded (never read in training: nothing here looks at them).
target_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadJointAnnotations', with_depth=False),
    dict(type='Resize', scale=target_scale, keep_ratio=False),
    dict(type='PackSegInputs'),
]
source_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=source_scale, keep_ratio=False),
    dict(type='LoadGTA5Annotations'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=target_scale, keep_ratio=False),
    dict(type='LoadJointAnnotations', with_depth=False),
    dict(type='PackSegInputs'),
]

train_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='MultiStreamDataset',
        streams=dict(
            source=dict(
                type='GTA5Dataset', data_root=source_root, split_file=split_file,
                pipeline=source_train_pipeline),
            target=dict(
                type='CityscapesJointDataset', data_root=target_root, split='train',
                pipeline=target_train_pipeline)),
        seed=0,
        check_classes=True))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CityscapesJointDataset', data_root=target_root, split='val', pipeline=test_pipeline))
test_dataloader = val_dataloader
source_val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='GTA5Dataset', data_root=source_root, split_file=source_val_split_file,
        pipeline=source_test_pipeline))

val_evaluator = dict(type='JointMetric')
test_evaluator = val_evaluator
source_val_evaluator = val_evaluator
