# Ablation, number of groups K = 3 (grouping 'depth3': ground, sky, everything else) instead of 4.
_base_ = ['../xdistill_synthdrive_seq.py']
model = dict(grouping='depth3')
