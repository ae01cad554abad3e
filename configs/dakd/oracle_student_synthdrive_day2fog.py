# Oracle (the upper bound): the multi-level student trained on the *target* stream with its labels (SynthDrive
# fog, city B, train split); evaluated on the target's val split like every other config here.
_base_ = [
    '../_base_/models/dakd_synthdrive.py', '../_base_/datasets/synthdrive_day2fog.py',
    '../_base_/schedules/schedule_synthdrive.py', '../_base_/default_runtime.py'
]
model = _base_.student_model
train_dataloader = dict(dataset=dict(_delete_=True, **_base_.train_dataloader.dataset.streams.target))
randomness = dict(seed=0)
