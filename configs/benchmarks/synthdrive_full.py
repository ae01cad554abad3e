# The full SynthDrive comparison: 3 seeds, every method and the JointDistill ablations, default data.
#   python tools/benchmark.py configs/benchmarks/synthdrive_full.py
_base_ = ['./synthdrive.py']
name = 'synthdrive_full'
out_dir = 'work_dirs/benchmarks/synthdrive_full'
teacher_work_dir = 'work_dirs'  # reuse teachers trained with tools/train.py configs/teachers/*_synthdrive.py
methods = dict(
    jd_no_feedback='configs/ablations/jd_no_feedback_synthdrive.py',
    jd_no_trajectory='configs/ablations/jd_no_trajectory_synthdrive.py',
    jd_no_connector='configs/ablations/jd_no_connector_synthdrive.py')
seeds = [0, 1, 2]
max_iters = dict(teacher=2000, student=2000)
val_interval = 500
checkpoint_interval = 500
log_interval = 50
data = dict(_delete_=True)  # the dataset config's own data (data/synthdrive, 2000 + 300 images at 128x256)
evaluate = 'test'
cost = dict(warmup=10, repeats=50, train_iters=5)
