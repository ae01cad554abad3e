# The two frozen single-task teachers of the cityscapes_mtan distillation configs (kd_static, kd4mtl,
# JointDistill),
# loaded from their own runs: python tools/train.py configs/teachers/{seg,depth}_cityscapes_mtan.py
_base_ = ['./distill.py']
teachers = dict(
    seg=dict(
        type='Teacher',
        config='configs/teachers/seg_cityscapes_mtan.py',
        checkpoint='work_dirs/seg_cityscapes_mtan/final.pth',
        features=_base_.teacher_features),
    depth=dict(
        type='Teacher',
        config='configs/teachers/depth_cityscapes_mtan.py',
        checkpoint='work_dirs/depth_cityscapes_mtan/final.pth',
        features=_base_.teacher_features))
# Their knowledge trajectories, recorded beside the checkpoints (JointDistill).
trajectory_files = dict(
    seg='work_dirs/seg_cityscapes_mtan/trajectory.pth',
    depth='work_dirs/depth_cityscapes_mtan/trajectory.pth')
