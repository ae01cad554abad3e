# Source-only student (the lower bound): the multi-level student trained on the labelled source (SynthDrive
# day, city A, GTA5 layout) alone; evaluated on the target (fog, city B). docs/methods.md, "Domain Adaptive
# KD".
_base_ = [
    '../_base_/models/dakd_synthdrive.py', '../_base_/datasets/synthdrive_day2fog.py',
    '../_base_/schedules/schedule_synthdrive.py', '../_base_/default_runtime.py'
]
model = _base_.student_model
train_dataloader = dict(dataset=dict(_delete_=True, **_base_.train_dataloader.dataset.streams.source))
randomness = dict(seed=0)
