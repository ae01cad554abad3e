# Two optimizers for the adaptation models on SynthDrive (AdaptSegNet, DAKD): the student's (the SynthDrive
# recipe: AdamW 2e-3, clipping, applied through its weighting) and the discriminators' (AdaptSegNet's Adam
# 1e-4, betas (0.9, 0.99)). The param_scheduler list (warm-up + poly, from schedule_synthdrive.py) drives
# both, as AdaptSegNet's poly schedule drives both of its optimizers; a list also keeps tools/train.py's
# rescaling of the schedule to a shorter max_iters.
_base_ = ['../../_base_/schedules/schedule_synthdrive.py']
optim_wrapper = dict(
    _delete_=True,
    constructor='MultiOptimWrapperConstructor',
    student=dict(
        type='WeightedOptimWrapper',
        modules='*',
        optimizer=dict(type='AdamW', lr=2e-3, weight_decay=1e-4),
        clip_grad=dict(max_norm=10.0)),
    discriminator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.99))))
