# NYUv2 (795 training images): the SynthDrive recipe at 20k iterations, i.e. ~200 epochs at batch size 8 (the
# MTAN release configs; LibMTL trains 200 epochs at batch size 8) or ~100 at batch size 4 (the
# official-release configs).
_base_ = ['./schedule_synthdrive.py']
max_iters = 20000
val_interval = 2000
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=500),
    dict(type='PolyLR', power=0.9, eta_min=1e-5, by_epoch=False, begin=500, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
