# Ablation, translator input scale: the translator reads the half-resolution disparity (scale 1) instead of the
# full-resolution one (scale 0), so the term reaches the deployed output layer only through the decoder.
_base_ = ['../xdistill_synthdrive_seq.py']
model = dict(translator=dict(in_scales=(1, )))
