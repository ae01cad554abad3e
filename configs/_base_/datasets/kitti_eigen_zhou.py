# KITTI raw for self-supervised monocular depth (Monodepth2's recipe): train on the eigen_zhou split with
# frame triplets (0, -1, +1) at 640x192, evaluate on the 697 images of the Eigen test split with the velodyne
# ground truth. Layout under `data_root` (docs/datasets.md, "KITTI raw"):
#   <date>/calib_cam_to_cam.txt, calib_velo_to_cam.txt
#   <date>/<date>_drive_<NNNN>_sync/image_02/data/<10-digit>.png     (and image_03 for the 'r' lines)
#   <date>/<date>_drive_<NNNN>_sync/velodyne_points/data/<10-digit>.bin
#   splits/{eigen_zhou,eigen,eigen_benchmark}/...  (Monodepth2's splits/ folder, copied as is)
# Ground-truth choices for val/test: gt='velodyne' (the classic Eigen GT, projected on the fly), gt='cache'
# (splits/eigen/gt_depths.npz from `python tools/dataset_converters/kitti_gt.py data/kitti
# splits/eigen/test_files.txt`), or the improved GT: split_file='splits/eigen_benchmark/test_files.txt',
# gt='annotated', annotated_root=<the data_depth_annotated tree>, with
# JointMetric(protocol='kitti_eigen_benchmark').
#
# A child config that changes a top-level variable must re-assign the dicts that use it (mmengine evaluates
# this file on its own), e.g. 1024x320:
#   img_scale = (1024, 320)
#   train_pipeline = [...]; train_dataloader = dict(dataset=dict(pipeline=train_pipeline)); ...

dataset_type = 'KITTIRawDataset'
data_root = 'data/kitti'
img_scale = (640, 192)  # (W, H): Monodepth2's default input, multiples of 32
frame_ids = (0, -1, 1)
# Monodepth2 trains on its JPEG conversion of the frames ('.jpg', README: "convert -quality 92
# -sampling-factor 2x2,1x1,1x1"); the download is PNG ('.png', Monodepth2's --png). The choice changes results
# slightly.
img_suffix = '.png'
# Monodepth2 uses one normalised K for every date (fx = 0.58 W, fy = 1.92 H, centred principal point);
# 'calib' takes each date's P_rect_02 instead.
intrinsics = 'monodepth2'

train_pipeline = [
    dict(type='LoadSequenceFromFile'),
    dict(type='ResizeSequence', scale=img_scale),  # Pillow Lanczos = Monodepth2's ANTIALIAS; K rescaled
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
    batch_size=12,  # Monodepth2: 12, 12 workers
    num_workers=4,
    persistent_workers=True,
    drop_last=True,  # a fixed batch size, as Monodepth2's BackprojectDepth assumes
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split_file='splits/eigen_zhou/train_files.txt',  # 39,810 triplets
        frame_ids=frame_ids,
        intrinsics=intrinsics,
        img_suffix=img_suffix,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split_file='splits/eigen/test_files.txt',  # 697 images
        frame_ids=(0, ),
        intrinsics=intrinsics,
        gt='velodyne',  # velodyne x distance, S_rect_02 size: Monodepth2's export_gt_depth.py --split eigen
        img_suffix=img_suffix,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# Monodepth2's evaluate_depth.py on the Eigen split: 1e-3 < gt < 80, Garg crop, per-image median scaling,
# prediction clamped to [1e-3, 80], per-image averaging (jdbench.evaluation DEPTH_PROTOCOLS).
val_evaluator = dict(type='JointMetric', protocol='kitti_eigen')
test_evaluator = val_evaluator
