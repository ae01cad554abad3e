from .data_preprocessor import JointDataPreProcessor  # noqa: F401
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .students import *  # noqa: F401,F403
