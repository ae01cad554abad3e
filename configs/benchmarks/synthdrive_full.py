# The SynthDrive comparison reported in docs/benchmarks.md: the default suite's data and schedule, every method,
# 3 seeds (teachers trained once). The JointDistill ablations: synthdrive_ablations.py (same output folder).
#   python tools/benchmark.py configs/benchmarks/synthdrive_full.py
_base_ = ['./synthdrive.py']
name = 'synthdrive_full'
out_dir = 'work_dirs/benchmarks/synthdrive_full'
seeds = [0, 1, 2]
