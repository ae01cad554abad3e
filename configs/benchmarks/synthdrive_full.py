# The SynthDrive comparison reported in docs/benchmarks.md: more data, a larger batch, teachers trained twice as
# long as the students, every method, 3 seeds (teachers trained once). JointDistill's ablations:
# synthdrive_ablations.py (same output folder, so these runs are reused).
#   python tools/benchmark.py configs/benchmarks/synthdrive_full.py
_base_ = ['./synthdrive.py']
name = 'synthdrive_full'
out_dir = 'work_dirs/benchmarks/synthdrive_full'
seeds = [0, 1, 2, 3, 4]  # enough to report JointDistill vs KD4MTL with an interval
max_iters = dict(teacher=800, student=400)  # teachers: larger models trained twice as long
data = dict(data_root='data/synthdrive_suite_n600_64x128', num_train=600, num_val=100, batch_size=8)
leaderboard = dict(paired=['mtl', 'kd4mtl'])  # also: is JointDistill separated from KD4MTL?
