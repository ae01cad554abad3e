# Ablation, no grouping: K = 19 (the teacher's own classes, 'classes19') instead of 4.
_base_ = ['../xdistill_synthdrive_seq.py']
model = dict(grouping='classes19')
