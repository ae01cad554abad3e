# Monodepth2 on SynthDrive sequences: the self-supervised baseline of X-Distill (docs/methods.md, section 4).
#   python tools/train.py configs/xdistill/monodepth2_synthdrive_seq.py     # renders the data on first use
# Slim encoder from scratch (configs/_base_/models/monodepth2.py), 96x320 frame triplets, batch 4.
_base_ = ['../_base_/models/monodepth2.py', '../_base_/datasets/synthdrive_seq.py', '../_base_/default_runtime.py']

# Schedule: Monodepth2's shape (Adam; the LR divided by 10 for the last quarter) on an iteration budget.
# Monodepth2 uses 1e-4 with ImageNet-pretrained encoders; these encoders start from scratch and train for a
# few thousand iterations, so the LR is 5x higher, with a short linear warm-up for stability. Iteration-based:
# `--cfg-options train_cfg.max_iters=N` shortens a run and the schedule follows (begin/end are scaled).
max_iters = 2000
val_interval = 500
optim_wrapper = dict(
    type='WeightedOptimWrapper',  # applies model.weighting when set; a plain update otherwise
    optimizer=dict(type='Adam', lr=5e-4, betas=(0.9, 0.999), weight_decay=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='ConstantLR', factor=0.1, by_epoch=False, begin=1500, end=max_iters),  # Monodepth2's step
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=val_interval, max_keep_ckpts=2,
                    save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
randomness = dict(seed=0)
