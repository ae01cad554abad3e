# AdaptSegNet student (the undistilled adapted baseline, DAKD's train_gta2cs_multi_drn22.py): the multi-level
# student, source cross-entropy (lambda_seg 0.1) + output-space adversarial adaptation on the target
# (lambda_adv 0.0002 / 0.001), one discriminator per level with its own Adam.
_base_ = [
    '../_base_/models/dakd_synthdrive.py', '../_base_/datasets/synthdrive_day2fog.py',
    './_base_/schedule_synthdrive_adapt.py', '../_base_/default_runtime.py'
]
model = dict(_base_.adaptsegnet, student=_base_.student_model)
randomness = dict(seed=0)
