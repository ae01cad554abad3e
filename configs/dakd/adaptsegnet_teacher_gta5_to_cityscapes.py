# The adapted teacher on GTA5 -> Cityscapes (train_gta2cs_multi_drn38.py): AdaptSegNet on the DRN-D-38
# substitute, batch 5, 100k steps. Its final.pth is what the DAKD configs distil.
_base_ = ['./adaptsegnet_student_gta5_to_cityscapes.py']
model = dict(student=_base_.teacher_model)
train_dataloader = dict(batch_size=5)
max_iters = 100000
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=max_iters)]
train_cfg = dict(max_iters=max_iters)
