# Domain Adaptive KD on GTA5 -> Cityscapes, paradigm 'feature_target' (jdbench's hypothesis for the paper's
# four paradigms, docs/methods.md): distil the intermediate level only (KL x lambda_seg, MSE) on the target
# domain.
_base_ = ['./dakd_all_gta5_to_cityscapes.py']
model = dict(paradigm='feature_target')
