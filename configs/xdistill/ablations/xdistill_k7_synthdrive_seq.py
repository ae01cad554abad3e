# Ablation, number of groups K = 7 (grouping 'category7': the official Cityscapes categories) instead of 4.
_base_ = ['../xdistill_synthdrive_seq.py']
model = dict(grouping='category7')
