# Cityscapes in the MTAN .npy release (lorenmt/mtan; used by LibMTL, KD4MTL, CAGrad): 128x256, 2975 train /
# 500 val images, 7 classes (label_7, or `label` in LibMTL's copy) or 19 (label_19), -1 = ignore (-> 255), and
# depth as INVERSE depth (disparity, 0 = invalid): scale augmentation multiplies it by the image scale.
# Layout under `data_root`:
#   {train,val}/image/{i}.npy                   128x256x3 RGB floats in [0, 1]
#   {train,val}/{label_7|label|label_19}/{i}.npy   128x256 class indices, -1 = ignore
#   {train,val}/depth/{i}.npy                   128x256x1 inverse depth, 0 = invalid
# Get it: the Cityscapes archive linked in lorenmt/mtan's README, unzipped into `data_root`
# (docs/datasets.md). For the 256x512 release set img_scale = (512, 256), crop_size = (256, 512) and re-assign
# the pipelines.
#
# A child config that changes a top-level variable must re-assign the dicts that use it, e.g. 19 classes:
#   label_set = 19
#   classes = (...the 19 Cityscapes train-ID classes...)
#   train_dataloader = dict(dataset=dict(label_set=label_set, metainfo=dict(classes=classes)))
#   val_dataloader = dict(dataset=dict(label_set=label_set, metainfo=dict(classes=classes)))
#   test_dataloader = val_dataloader
#   model = dict(heads=dict(seg=dict(num_classes=19)))

dataset_type = 'CityscapesMTANDataset'
data_root = 'data/cityscapes_mtan'
# 7 = the Cityscapes categories without void (the release does not name its 7 classes: docs/datasets.md)
label_set = 7
classes = ('flat', 'construction', 'object', 'nature', 'sky', 'human', 'vehicle')
img_scale = (256, 128)  # (W, H): the release's resolution
crop_size = (128, 256)  # (H, W)

train_pipeline = [
    dict(type='LoadNpyImage'),
    dict(type='LoadNpyAnnotations'),
    # Scales 1.0-1.5 cropped back to 128x256, flip (UniversalRepresentations' augmentation): the inverse depth
    # is multiplied by the image scale (depth_mode 'disparity', set by the dataset).
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
        type=dataset_type,
        data_root=data_root,
        split='train',
        label_set=label_set,
        metainfo=dict(classes=classes),
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
        label_set=label_set,
        metainfo=dict(classes=classes),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# Depth metrics are on the release's inverse depth (values up to ~0.49): every positive pixel is valid, and
# abs_err / rel_err are the MTL papers' numbers on this release. The Eigen metrics (d1, rmse, ...) are
# computed on the same inverse depth.
val_evaluator = dict(type='JointMetric', depth_range=(0.0, 1.0))
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
