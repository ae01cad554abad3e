# Domain Adaptive KD, paradigm 'feature_source' (jdbench's hypothesis for the paper's four paradigms,
# docs/methods.md): distil the intermediate level only (KL x lambda_seg, MSE) on the source domain; the
# student's source CE and adversarial terms as in every DAKD config.
_base_ = ['./dakd_all_synthdrive_day2fog.py']
model = dict(paradigm='feature_source')
