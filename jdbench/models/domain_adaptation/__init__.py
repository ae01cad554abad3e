"""Unsupervised domain adaptation and Domain Adaptive KD: multi-level segmentors, AdaptSegNet's discriminator
and training, the DAKD distiller, and its joint (seg + depth) variant (docs/methods.md, "Domain Adaptive KD")."""
from .adaptsegnet import AdaptSegNet
from .dakd import DAKD, PARADIGMS
from .discriminator import SOURCE_LABEL, TARGET_LABEL, AdversarialLoss, FCDiscriminator
from .joint_dakd import JointDAKD, JointLevelStudent
from .losses import DAKDKLLoss, DAKDMSELoss, PseudoLabelCELoss
from .segmentor import ASPPClassifierHead, MultiLevelSegmentor
from .teacher import MultiLevelTeacher

__all__ = [
    'MultiLevelSegmentor', 'ASPPClassifierHead', 'FCDiscriminator', 'AdversarialLoss', 'SOURCE_LABEL',
    'TARGET_LABEL', 'DAKDKLLoss', 'DAKDMSELoss', 'PseudoLabelCELoss', 'MultiLevelTeacher', 'AdaptSegNet', 'DAKD',
    'PARADIGMS', 'JointLevelStudent', 'JointDAKD'
]
