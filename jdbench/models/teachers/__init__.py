from .recorder import ModuleInputsRecorder, ModuleOutputsRecorder, close_module_names
from .teacher import Teacher, TeacherOutput

__all__ = ['Teacher', 'TeacherOutput', 'ModuleInputsRecorder', 'ModuleOutputsRecorder', 'close_module_names']
