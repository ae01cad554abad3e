from .joint_student import JointStudent

__all__ = ['JointStudent']
