# Source-only teacher on GTA5 -> Cityscapes: the DRN-D-38 substitute trained on the source alone, with the
# teacher's recipe of DAKD's code (train_gta2cs_multi_drn38.py: batch 5, 100k steps).
_base_ = ['./source_only_student_gta5_to_cityscapes.py']
model = _base_.teacher_model
train_dataloader = dict(batch_size=5)
max_iters = 100000
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=max_iters)]
train_cfg = dict(max_iters=max_iters)
