# Depth teacher: the larger single-task model, trained on SynthDrive depth.
_base_ = [
    '../_base_/models/teacher.py', '../_base_/datasets/synthdrive.py',
    '../_base_/schedules/schedule_synthdrive.py', '../_base_/default_runtime.py'
]
model = dict(heads=dict(seg=None))
randomness = dict(seed=0)
# Knowledge trajectory (JointDistill, spec §4): the attention maps of the probe set at K milestones of this
# training, top-k essential points per image, written to {work_dir}/trajectory.pth beside the checkpoints.
custom_hooks = [
    *_base_.custom_hooks,
    dict(
        type='TrajectoryRecorderHook',
        num_milestones=8,
        topk=64,
        p=2.0,
        stride=4,
        feature='heads.{task}.conv_seg',
        feature_io='input',
        probe=dict(num_images=16, seed=0)),
]
