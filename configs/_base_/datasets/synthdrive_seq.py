# SynthDrive sequences for self-supervised monocular depth (Monodepth2 / X-Distill): SynthDrive video in the
# KITTI raw layout under `data_root`, rendered on first use by SynthDriveSeqDataset when the folder is missing
# (or run `python tools/dataset_converters/synthdrive_seq.py --out data/synthdrive_seq --num-sequences 40
# --frames 20 --size 96 320 --num-val 0 --num-test 4`), then read by the KITTI raw loader (KITTIRawDataset).
#
# - Training: frame triplets (0, -1, +1) of the train drives, Monodepth2's augmentation (flip 0.5 of the whole
#   triplet, one colour jitter for every frame of a triplet, prob 0.5), intrinsics from each date's
#   calibration (P_rect_02, scaled to the input).
# - Evaluation (val and test): every frame of the test drives against the dense rendered depth
#   (`gt='annotated'`: proj_depth/groundtruth PNGs, camera z-depth, 0 = sky). No val drives are rendered: no
#   model selection is made (every run keeps its last iteration), so the validation during training is the
#   test evaluation, as the suites read it.
# - Metric: Monodepth2's KITTI protocol without the Garg crop (`kitti_eigen_nocrop`): valid 1e-3 < gt < 80 m
#   (the 80 m cap; about 3% of SynthDrive's surface pixels lie beyond, up to ~95 m), per-image median scaling
#   (the scale-ratio spread is reported), prediction clamped to [1e-3, 80], per-image averaging. The Garg crop
#   (the lower 58% of the image) exists because KITTI's velodyne sees nothing above it; SynthDrive's ground truth
#   is dense, so the whole image is scored. `protocol='kitti_eigen'` restores the crop.
#
# CPU-friendly defaults: 96x320 (multiples of 32, KITTI's aspect ratio), 40 drives x 20 frames (648 triplets,
# 80 test frames), rendered in well under a minute. A child config that changes a top-level variable must
# re-assign the dicts that use it (mmengine evaluates this file on its own), e.g.
#   img_size = (64, 224)
#   data_root = 'data/synthdrive_seq_64x224'        # other rendering arguments -> other folder
#   generate = dict(num_sequences=40, num_frames=20, size=img_size, num_val=0, num_test=4)
#   train_dataloader = dict(dataset=dict(data_root=data_root, generate=generate,
#                                        pipeline=[..., dict(type='ResizeSequence', scale=(224, 64)), ...]))
#   (the same for val_dataloader; test_dataloader = val_dataloader)
# The benchmark suites set these through their `data.sequences` block instead (docs/tools.md, "X-Distill").

dataset_type = 'SynthDriveSeqDataset'
data_root = 'data/synthdrive_seq'
img_size = (96, 320)  # (H, W): rendered size and network input
img_scale = (img_size[1], img_size[0])  # (W, H)
generate = dict(num_sequences=40, num_frames=20, size=img_size, seed=0, style='day', num_val=0, num_test=4)
frame_ids = (0, -1, 1)
split_dir = 'splits/synthdrive'  # generate's split_name

train_pipeline = [
    dict(type='LoadSequenceFromFile'),
    dict(type='ResizeSequence', scale=img_scale),  # K rescaled; a no-op resize at the rendered size
    dict(type='RandomFlipSequence', prob=0.5),  # all frames together; K kept (as Monodepth2)
    # one jitter for all frames of an item, into imgs_aug; the raw frames are kept for the photometric loss
    dict(type='SequenceColorJitter', prob=0.5, brightness=(0.8, 1.2), contrast=(0.8, 1.2),
         saturation=(0.8, 1.2), hue=(-0.1, 0.1)),
    dict(type='PackSequenceInputs'),
]
test_pipeline = [
    dict(type='LoadSequenceFromFile'),  # ground truth stays at its original size
    dict(type='ResizeSequence', scale=img_scale),
    dict(type='PackSequenceInputs'),
]

train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split_file=f'{split_dir}/train_files.txt',
        generate=generate,
        frame_ids=frame_ids,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split_file=f'{split_dir}/test_files.txt',
        generate=generate,
        frame_ids=(0, ),
        gt='annotated',  # the dense rendered depth; 'velodyne' projects the LiDAR-like scans as for KITTI
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='JointMetric', protocol=dict(name='kitti_eigen_nocrop', base='kitti_eigen', depth_crop=None))
test_evaluator = val_evaluator
