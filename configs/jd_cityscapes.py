# JointDistill on Cityscapes: connector-fused teacher, feedback-weighted KD (omega), knowledge trajectory.
# Every hyper-parameter of jdbench's reading of the paper (docs/methods.md) is a field below, at its default.
# Teachers: see configs/_base_/models/distill.py.
_base_ = ['./baselines/mtl_cityscapes.py', './_base_/models/teachers_cityscapes.py']

# Feedback split (spec §3): a fixed subset of the training split, held out from training.
feedback_holdout = dict(fraction=0.05, min_count=32, seed=0)
train_dataloader = dict(dataset=dict(holdout=dict(feedback_holdout, part='train')))

model = dict(
    _delete_=True,
    type='JointDistill',
    student=_base_.model,
    teacher_work_dir=_base_.teacher_work_dir,
    teachers=_base_.teachers,
    # Connector (spec §2): f_i^T = the recorded feature `teacher_feature` of every teacher, resized to one
    # stride (None: the student's finest head input), concatenated, num_convs x Conv3x3-BN-ReLU, task heads.
    teacher_feature='last',
    connector=dict(type='JointDistillConnector', channels=64, num_convs=2, stride=None),
    # KD from the (detached) fused predictions: KL(fused || student) with temperature, L1 for depth.
    kd_losses=_base_.kd_losses,
    depth_kd_mask='all',
    # Feedback weights omega_i on the kd.<teacher> objectives (spec §3), updated by FeedbackHook below.
    weighting=dict(
        type='Feedback',
        balance='distill',
        alpha=1.0,
        beta=0.5,
        init_weight=1.0,
        omega_min=0.1,
        omega_max=10.0,
        mode='ratio'),  # 'gap': 1 / a_i, more weight where the student lags
    # Knowledge trajectory (spec §4): attention maps A = mean_c |F|^p at the essential points of the teachers'
    # recorded milestones (TrajectoryRecorderHook in the teachers' runs; 'final' when a file is missing).
    trajectory=dict(
        type='TrajectoryDistillLoss',
        source='recorded',
        fallback='final',
        interval=40,  # a probe step costs ~1.4 training steps at 512x1024: ~3.5% of training
        gamma=0.5,
        loss_weight=1.0,  # lambda_traj
        milestone='nearest',
        p=2.0,
        topk=64,
        stride=4,
        num_milestones=8,
        probe=dict(num_images=16, seed=0)))

custom_hooks = [
    *_base_.custom_hooks,
    # Scores the student on the held-out split 10 times per run (teachers once) and updates omega.
    dict(type='FeedbackHook', num_updates=10, split='holdout', scores=dict(seg='mIoU', depth='d1')),
]
