# Ablation, translator input scale: every disparity scale (0-3), resized to the finest and concatenated.
_base_ = ['../xdistill_synthdrive_seq.py']
model = dict(translator=dict(in_scales=(0, 1, 2, 3)))
