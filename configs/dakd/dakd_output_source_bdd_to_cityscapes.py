# Domain Adaptive KD on BDD100K -> Cityscapes, paradigm 'output_source' (jdbench's hypothesis for the paper's
# four paradigms, docs/methods.md): distil the output level only (KL, pseudo-label CE) on the source domain.
_base_ = ['./dakd_all_bdd_to_cityscapes.py']
model = dict(paradigm='output_source')
