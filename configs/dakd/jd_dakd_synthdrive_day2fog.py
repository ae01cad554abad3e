# Domain-adaptive joint distillation (beyond the paper; docs/methods.md "Domain-adaptive joint distillation"):
# the joint student (seg + depth, configs/baselines/mtl_synthdrive.py's network) trained on SynthDrive day (city
# A, with segmentation and depth labels) and adapted to fog (city B, unlabelled), distilled from two teachers:
#   - segmentation: DAKD's output-level terms (KL + the teacher's argmax pseudo-labels) on the target from the
#     adapted teacher (configs/dakd/adaptsegnet_teacher_synthdrive_day2fog.py), plus AdaptSegNet's adversarial
#     term on the segmentation output (one discriminator);
#   - depth: on the target, the depth teacher's prediction as the pseudo-target (L1), on the source the ground
#     truth (configs/teachers/depth_synthdrive.py, trained on the source domain's images).
# Train the teachers first (or point the checkpoints elsewhere):
#   python tools/train.py configs/dakd/adaptsegnet_teacher_synthdrive_day2fog.py
#   python tools/train.py configs/teachers/depth_synthdrive.py
#   python tools/train.py configs/dakd/jd_dakd_synthdrive_day2fog.py
# final.pth is the joint student alone: it loads into configs/baselines/mtl_synthdrive.py's model.
_base_ = [
    '../_base_/models/joint_student.py', './_base_/synthdrive_day2fog_joint.py',
    './_base_/schedule_synthdrive_adapt.py', '../_base_/default_runtime.py'
]
model = dict(
    _delete_=True,
    type='JointDAKD',
    student=dict(_base_.model, type='JointLevelStudent', seg_task='seg'),
    teachers=dict(
        seg=dict(
            type='MultiLevelTeacher',
            config='configs/dakd/adaptsegnet_teacher_synthdrive_day2fog.py',
            checkpoint='work_dirs/adaptsegnet_teacher_synthdrive_day2fog/final.pth'),
        depth=dict(
            type='Teacher',
            config='configs/teachers/depth_synthdrive.py',
            checkpoint='work_dirs/depth_synthdrive/final.pth')),
    # segmentation: the joint student has one segmentation level (no intermediate head), so DAKD's output level;
    # every other lambda is DAKD's default, the official code's (lambda_kl 0.1, lambda_target_ce 1.0, tau 1.0)
    paradigm='output_target',
    discriminator=dict(final=dict(type='FCDiscriminator', channels=16)),  # width 16 on 2 CPU cores (dakd_synthdrive)
    lambda_adv=dict(final=0.001),
    gan='vanilla',
    resolution='input',
    kl_loss=dict(type='DAKDKLLoss', mode='true', temperature=1.0, reduction='mean'),
    pseudo_loss=dict(type='PseudoLabelCELoss', threshold=None),
    # depth: the depth teacher's prediction on the target (the source has ground truth)
    depth_kd_loss=dict(type='DepthL1Loss'),
    lambda_depth=1.0,
    depth_domains=('target', ),
    weighting=dict(type='EW', balance='all'))  # every term summed, as DAKD's loss
randomness = dict(seed=0)
