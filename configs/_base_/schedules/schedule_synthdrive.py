# Iteration-based: `--cfg-options train_cfg.max_iters=N` shortens any run (the LR schedule follows max_iters).
max_iters = 2000
val_interval = 500
optim_wrapper = dict(
    type='WeightedOptimWrapper',  # applies model.weighting; a plain OptimWrapper for models without one
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=1e-4),
    clip_grad=dict(max_norm=10.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='PolyLR', power=0.9, eta_min=1e-5, by_epoch=False, begin=100, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # mmengine's CheckpointHook, writing atomically: a kill while saving leaves no half-written checkpoint
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=val_interval, max_keep_ckpts=2,
                    save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
