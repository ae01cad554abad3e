# Oracle on BDD100K (real -> real; direction assumed, wave2.md §C.1) -> Cityscapes: the student trained on
# Cityscapes train with its labels (the upper bound), with the source-only student's recipe.
_base_ = [
    '../_base_/models/dakd_drn.py', '../_base_/datasets/bdd_to_cityscapes.py',
    './_base_/schedule_sgd_poly.py', '../_base_/default_runtime.py'
]
model = _base_.student_model
train_dataloader = dict(
    batch_size=3, dataset=dict(_delete_=True, **_base_.train_dataloader.dataset.streams.target))
max_iters = 200000
poly_iters = 250000
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=poly_iters)]
train_cfg = dict(max_iters=max_iters)
randomness = dict(seed=0)
