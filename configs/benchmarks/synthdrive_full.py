# The SynthDrive comparison reported in docs/benchmarks.md: the default suite's data and schedule, every method
# and the JointDistill ablations, 3 seeds (teachers trained once).
#   python tools/benchmark.py configs/benchmarks/synthdrive_full.py
_base_ = ['./synthdrive.py']
name = 'synthdrive_full'
out_dir = 'work_dirs/benchmarks/synthdrive_full'
methods = dict(
    jd_no_feedback='configs/ablations/jd_no_feedback_synthdrive.py',
    jd_no_trajectory='configs/ablations/jd_no_trajectory_synthdrive.py',
    jd_no_connector='configs/ablations/jd_no_connector_synthdrive.py')
seeds = [0, 1, 2]
