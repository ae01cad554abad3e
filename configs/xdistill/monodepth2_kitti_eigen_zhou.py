# Monodepth2 (monocular, 640x192) on KITTI raw, Monodepth2's recipe: train on the eigen_zhou split (39,810
# triplets), evaluate on the 697 Eigen test images with the velodyne ground truth (protocol 'kitti_eigen':
# Garg crop, 80 m cap, per-image median scaling). Monodepth2 reports abs_rel 0.115, sq_rel 0.903, rmse 4.863,
# rmse_log 0.193, d1 0.877 for this setting (its README, "Mono 640x192"; docs/methods.md, section 4).
#   python tools/train.py configs/xdistill/monodepth2_kitti_eigen_zhou.py
# A user provides: KITTI raw under data/kitti (the dates' calibration, image_02/03 and velodyne_points of the
# eigen_zhou and eigen drives) and Monodepth2's splits/ folder copied into data/kitti (docs/datasets.md, "KITTI
# raw"); the ImageNet weights are downloaded by mmengine (torchvision://resnet18).
_base_ = [
    '../_base_/models/monodepth2_resnet18.py', '../_base_/datasets/kitti_eigen_zhou.py',
    '../_base_/default_runtime.py'
]

# Monodepth2's schedule: Adam 1e-4, batch 12, 20 epochs, the LR divided by 10 after epoch 15. One epoch of
# eigen_zhou is 39,810 // 12 = 3,317 iterations (drop_last).
epoch = 3317
max_iters = 20 * epoch
val_interval = epoch
optim_wrapper = dict(
    type='WeightedOptimWrapper', optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.0))
param_scheduler = [dict(type='ConstantLR', factor=0.1, by_epoch=False, begin=15 * epoch, end=max_iters)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=250, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=val_interval, max_keep_ckpts=2,
                    save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
randomness = dict(seed=0)
