# NYU Depth v2, official labelled release: 480x640, 795 train / 654 test images (splits.mat), 40 or 13
# classes, depth in metres. Read from per-image PNG files that tools/dataset_converters/nyuv2.py writes once
# from nyu_depth_v2_labeled.mat + splits.mat (docs/datasets.md). Layout under `data_root`:
#   images/{train,test}/NNNN.png        8-bit colour (NNNN = 1-based index in the release)
#   labels/{train,test}/NNNN.png        16-bit 894-class ids, 0 = unlabelled (-> 255)
#   depths/{train,test}/NNNN.png        16-bit in-painted depth in mm
#   raw_depths/{train,test}/NNNN.png    16-bit raw Kinect depth in mm, 0 = invalid
# Get it:
#   python tools/dataset_converters/nyuv2.py data/nyuv2/nyu_depth_v2_labeled.mat data/nyuv2/splits.mat
# Results at 480x640 are their own benchmark; the MTL tables (LibMTL, MTAN, ...) use the MTAN release at
# 288x384 (nyuv2_mtan.py).
#
# A child config that changes a top-level variable must re-assign the dicts that use it (mmengine evaluates
# this file on its own), e.g. the 13 classes:
#   label_set = 13
#   classes = ('bed', 'books', 'ceiling', 'chair', 'floor', 'furniture', 'objects', 'picture', 'sofa',
#              'table', 'tv', 'wall', 'window')
#   train_dataloader = dict(dataset=dict(label_set=label_set, metainfo=dict(classes=classes)))
#   val_dataloader = dict(dataset=dict(label_set=label_set, metainfo=dict(classes=classes)))
#   test_dataloader = val_dataloader
#   model = dict(heads=dict(seg=dict(num_classes=13)))

dataset_type = 'NYUv2Dataset'
data_root = 'data/nyuv2'
# Labels: 40 = the 40 classes of Gupta et al. 2013; 13 = the 13 classes of Couprie et al. 2013 (the MTAN set).
label_set = 40
classes = ('wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table', 'door', 'window', 'bookshelf',
           'picture', 'counter', 'blinds', 'desk', 'shelves', 'curtain', 'dresser', 'pillow', 'mirror',
           'floor mat', 'clothes', 'ceiling', 'books', 'refridgerator', 'television', 'paper', 'towel',
           'shower curtain', 'box', 'whiteboard', 'person', 'night stand', 'toilet', 'sink', 'lamp',
           'bathtub', 'bag', 'otherstructure', 'otherfurniture', 'otherprop')
# Depth: 'depths' = in-painted (dense) depth; 'rawDepths' = raw Kinect depth (0 = invalid). Both in metres.
depth_source = 'depths'
img_scale = (640, 480)  # (W, H): the release's resolution; training base scale and test resolution
crop_size = (480, 640)  # (H, W)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadNYUv2Annotations'),
    # Scale augmentation as in LibMTL's NYUv2 (scales 1.0-1.5, crop back to the base size): depth values are
    # divided by the image scale s, as if the scene were s times closer to the same camera.
    dict(type='RandomResizeDepth', scale=img_scale, ratio_range=(1.0, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    # Annotations are loaded after Resize: metrics compare predictions and ground truth at the original size.
    dict(type='LoadNYUv2Annotations'),
    dict(type='PackSegInputs'),
]

train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        label_set=label_set,
        metainfo=dict(classes=classes),
        depth_source=depth_source,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        label_set=label_set,
        metainfo=dict(classes=classes),
        depth_source=depth_source,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# NYUv2 conventions: valid ground truth 0.001 < gt < 10 m. The Eigen crop (rows 45:471, cols 41:601 of
# 480x640) is an option: dict(type='JointMetric', depth_range=(1e-3, 10.0), depth_crop='eigen_nyu').
val_evaluator = dict(type='JointMetric', depth_range=(1e-3, 10.0))
test_evaluator = val_evaluator

# The feedback split of JointDistill's FeedbackHook: the training images held out of training (a distiller's
# train_dataloader.dataset then sets holdout=dict(part='train'); 5% or at least 32 images), under the test
# pipeline.
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
