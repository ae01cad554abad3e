# The two frozen single-task teachers of the nyuv2 distillation configs (kd_static, kd4mtl,
# JointDistill),
# loaded from their own runs: python tools/train.py configs/teachers/{seg,depth}_nyuv2.py
_base_ = ['./distill.py']
teachers = dict(
    seg=dict(
        type='Teacher',
        config='configs/teachers/seg_nyuv2.py',
        checkpoint='work_dirs/seg_nyuv2/final.pth',
        features=_base_.teacher_features),
    depth=dict(
        type='Teacher',
        config='configs/teachers/depth_nyuv2.py',
        checkpoint='work_dirs/depth_nyuv2/final.pth',
        features=_base_.teacher_features))
# Their knowledge trajectories, recorded beside the checkpoints (JointDistill).
trajectory_files = dict(
    seg='work_dirs/seg_nyuv2/trajectory.pth', depth='work_dirs/depth_nyuv2/trajectory.pth')
