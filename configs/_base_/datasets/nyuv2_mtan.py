# NYUv2 in the MTAN .npy release (lorenmt/mtan; used by LibMTL, KD4MTL, CAGrad, Auto-Lambda): 288x384,
# 795 train / 654 val images, 13 classes (-1 = ignore -> 255), depth in metres (0 = invalid). Surface normals
# (normal/) are not used. Layout under `data_root`:
#   {train,val}/image/{i}.npy   288x384x3 RGB floats in [0, 1]
#   {train,val}/label/{i}.npy   288x384 class indices 0..12, -1 = ignore
#   {train,val}/depth/{i}.npy   288x384x1 metres, 0 = invalid
# Get it: the NYUv2 archive linked in lorenmt/mtan's README, unzipped into `data_root` (docs/datasets.md).
# This is the data of LibMTL's NYUv2 tables (its HPS table: DeepLabV3+ ResNet-50, no augmentation).

dataset_type = 'NYUv2MTANDataset'
data_root = 'data/nyuv2_mtan'
classes = ('bed', 'books', 'ceiling', 'chair', 'floor', 'furniture', 'objects', 'picture', 'sofa', 'table',
           'tv', 'wall', 'window')
img_scale = (384, 288)  # (W, H): the release's resolution
crop_size = (288, 384)  # (H, W)

train_pipeline = [
    dict(type='LoadNpyImage'),
    dict(type='LoadNpyAnnotations'),
    # LibMTL's --aug (scales 1.0-1.5, crop back to 288x384, flip): depth (metres) is divided by the scale.
    dict(type='RandomResizeDepth', scale=img_scale, ratio_range=(1.0, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadNpyImage'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    # Annotations are loaded after Resize: metrics compare predictions and ground truth at the original size.
    dict(type='LoadNpyAnnotations'),
    dict(type='PackSegInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type, data_root=data_root, split='train', metainfo=dict(classes=classes),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, split='val', metainfo=dict(classes=classes),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# NYUv2 conventions: valid ground truth 0.001 < gt < 10 m; abs_err / rel_err are LibMTL's AErr / RErr (pooled
# over valid pixels). The Eigen crop is defined at 480x640 and does not apply to this release.
val_evaluator = dict(type='JointMetric', depth_range=(1e-3, 10.0))
test_evaluator = val_evaluator

# The feedback split of JointDistill's FeedbackHook (training images held out of training; a distiller's
# train_dataloader.dataset sets holdout=dict(part='train')) and the knowledge trajectory's 16 probe images.
feedback_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False, seed=0),
    dataset=dict(train_dataloader['dataset'], holdout=dict(part='holdout'), pipeline=test_pipeline))
probe_dataloader = dict(
    batch_size=16,
    dataset=dict(
        type='ProbeSubset',
        num_images=16,
        seed=0,
        dataset=dict(train_dataloader['dataset'], holdout=dict(part='train'), pipeline=test_pipeline)))
