# The knowledge trajectory's attention settings (JointDistill, docs/methods.md), shared by the teachers that
# record it (TrajectoryRecorderHook) and the distiller that follows it (TrajectoryDistillLoss): A = mean_c |F|^p of
# the input of the prediction layer, on a grid of `stride` input pixels per cell, top-k essential points per
# probe image, at K milestones of the teacher's training.
trajectory_cfg = dict(num_milestones=8, topk=64, p=2.0, stride=4, feature_io='input')
