# Domain Adaptive KD, paradigm 'feature_target' (jdbench's hypothesis for the paper's four paradigms,
# docs/methods.md): distil the intermediate level only (KL x lambda_seg, MSE) on the target domain; the
# student's source CE and adversarial terms as in every DAKD config.
_base_ = ['./dakd_all_synthdrive_day2fog.py']
model = dict(paradigm='feature_target')
