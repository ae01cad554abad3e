# Source-only student on GTA5 -> Cityscapes: the DRN-D-22 substitute (configs/_base_/models/dakd_drn.py)
# trained on the labelled source alone, with the undistilled student's recipe of DAKD's code
# (train_gta2cs_multi_drn22.py: batch 3, SGD 2.5e-4, poly over 250k steps, stopped at 200k); evaluated on
# Cityscapes val.
_base_ = [
    '../_base_/models/dakd_drn.py', '../_base_/datasets/gta5_to_cityscapes.py',
    './_base_/schedule_sgd_poly.py', '../_base_/default_runtime.py'
]
model = _base_.student_model
train_dataloader = dict(
    batch_size=3, dataset=dict(_delete_=True, **_base_.train_dataloader.dataset.streams.source))
max_iters = 200000
poly_iters = 250000
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=poly_iters)]
train_cfg = dict(max_iters=max_iters)
randomness = dict(seed=0)
