# Domain Adaptive KD on GTA5 -> Cityscapes, paradigm 'output_target' (jdbench's hypothesis for the paper's
# four paradigms, docs/methods.md): distil the output level only (KL, pseudo-label CE) on the target domain.
_base_ = ['./dakd_all_gta5_to_cityscapes.py']
model = dict(paradigm='output_target')
