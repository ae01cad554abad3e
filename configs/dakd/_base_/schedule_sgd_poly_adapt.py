# Two optimizers on real data (AdaptSegNet, DAKD): the segmentor's SGD (schedule_sgd_poly.py) through its
# weighting, and the discriminators' Adam lr 1e-4, betas (0.9, 0.99); one poly list drives both (AdaptSegNet).
_base_ = ['./schedule_sgd_poly.py']
optim_wrapper = dict(
    _delete_=True,
    constructor='MultiOptimWrapperConstructor',
    student=dict(
        type='WeightedOptimWrapper',
        modules='*',
        optimizer=dict(type='SGD', lr=2.5e-4, momentum=0.9, weight_decay=5e-4)),
    discriminator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.99))))
