"""Loss-weighting and gradient-manipulation strategies (``WEIGHTINGS``).

``jdbench.engine.optimizers.WeightedOptimWrapper`` applies them; see ``docs/weighting.md`` for the contract,
the strategies and their papers.
"""
from .aligned_mtl import AlignedMTL
from .base import BaseGradWeighting, BaseLossWeighting, BaseWeighting
from .builder import build_weighting, objective_names, registered_strategies
from .cagrad import CAGrad
from .db_mtl import DBMTL
from .dwa import DWA
from .famo import FAMO
from .feedback import Feedback
from .gradnorm import GradNorm
from .gradvac import GradVac
from .imtl import IMTL
from .mgda import MGDA
from .nash_mtl import NashMTL
from .pcgrad import PCGrad
from .rlw import RLW
from .static import EW, Fixed
from .uw import UW

__all__ = [
    'BaseWeighting', 'BaseLossWeighting', 'BaseGradWeighting', 'build_weighting', 'objective_names',
    'registered_strategies', 'EW', 'Fixed', 'UW', 'DWA', 'RLW', 'FAMO', 'Feedback', 'GradNorm', 'MGDA',
    'PCGrad', 'CAGrad', 'IMTL', 'GradVac', 'NashMTL', 'AlignedMTL', 'DBMTL'
]
