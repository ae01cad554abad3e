# Cityscapes with semantic labels and depth from disparity + camera. Layout under `data_root`:
#   leftImg8bit/{split}/{city}/*_leftImg8bit.png, gtFine/{split}/{city}/*_gtFine_labelTrainIds.png,
#   disparity/{split}/{city}/*_disparity.png, camera/{split}/{city}/*_camera.json
# Get it: leftImg8bit_trainvaltest.zip, gtFine_trainvaltest.zip, disparity_trainvaltest.zip and
# camera_trainvaltest.zip from https://www.cityscapes-dataset.com, then run cityscapesscripts'
# createTrainIdLabelImgs.
#
# A child config that changes a top-level variable must re-assign the dicts that use it (mmengine evaluates
# this file on its own), e.g.
#   label_set = 'category'
#   train_dataloader = dict(dataset=dict(label_set=label_set))
#   val_dataloader = dict(dataset=dict(label_set=label_set))
#   test_dataloader = val_dataloader

dataset_type = 'CityscapesJointDataset'
data_root = 'data/cityscapes'
# Labels: 'trainid' = the 19 Cityscapes train-ID classes; 'category' = the 7 categories
# (flat, construction, object, nature, sky, human, vehicle).
label_set = 'trainid'
# Depth: 'metric' = z-depth in metres (baseline * fx / disparity); 'disparity' = disparity in pixels, i.e.
# inverse depth up to baseline * fx (the MTAN convention). 0 = invalid in both.
depth_mode = 'metric'
img_scale = (1024, 512)  # (W, H): half resolution; training base scale and test resolution. MTAN: (256, 128)
crop_size = (512, 1024)  # (H, W)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadJointAnnotations'),
    # Scale augmentation: depth values are divided by the image scale s relative to img_scale
    # (disparity multiplied by s), as if the scene were s times closer to the same camera.
    dict(type='RandomResizeDepth', scale=img_scale, ratio_range=(0.5, 2.0), keep_ratio=True),
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
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
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
