# JointDistill (docs/methods.md): connector-fused teacher, feedback-weighted KD (omega), knowledge trajectory.
# Every hyper-parameter of jdbench's reading of the paper is a field below, at its default. A dataset config
# (configs/jd_<dataset>.py) adds the student, the teachers and the hooks' data.
_base_ = ['../trajectory.py']

jointdistill = dict(
    type='JointDistill',
    # Connector: f_i^T = the recorded feature `teacher_feature` of every teacher, resized to one stride (None:
    # the student's finest head input), concatenated, num_convs x Conv3x3-BN-ReLU, task heads.
    teacher_feature='last',
    connector=dict(type='JointDistillConnector', channels=64, num_convs=2, stride=None),
    # KD from the (detached) fused predictions: KL(fused || student) with temperature, L1 for depth.
    depth_kd_mask='all',
    # Feedback weights omega_i on the kd.<teacher> objectives, updated by FeedbackHook. This is the one switch of
    # the feedback: a strategy without feedback (e.g. Fixed) leaves the hook idle.
    weighting=dict(
        type='Feedback',
        balance='distill',
        alpha=1.0,
        beta=0.5,
        init_weight=1.0,
        omega_min=0.1,
        omega_max=10.0,
        mode='ratio'))  # 'gap': 1 / a_i, more weight where the student lags

# Knowledge trajectory: attention maps A = mean_c |F|^p at the essential points of the teachers' recorded
# milestones ('final' when a file is missing). TrajectoryHook feeds it the probe set; trajectory=None turns it off.
trajectory_loss = dict(
    type='TrajectoryDistillLoss',
    source='recorded',
    fallback='final',
    gamma=0.5,
    loss_weight=1.0,  # lambda_traj
    milestone='nearest',
    **_base_.trajectory_cfg)

# FeedbackHook: scores the student on the held-out split 10 times per run (teachers once) and updates omega.
feedback_cfg = dict(num_updates=10, scores=dict(seg='mIoU', depth='d1'))
