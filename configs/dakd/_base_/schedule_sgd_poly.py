# The segmentor recipe of AdaptSegNet and DAKD on real data: SGD lr 2.5e-4, momentum 0.9, weight decay 5e-4,
# poly (power 0.9) from the first iteration, no warm-up. A config sets max_iters (and poly_iters when the code
# planned its poly over more steps than it ran), then re-assigns param_scheduler and train_cfg.
_base_ = ['../../_base_/schedules/schedule_cityscapes.py']
max_iters = 50000
poly_iters = max_iters
val_interval = 5000
optim_wrapper = dict(
    _delete_=True,
    type='WeightedOptimWrapper',
    optimizer=dict(type='SGD', lr=2.5e-4, momentum=0.9, weight_decay=5e-4))
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=poly_iters)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
