"""Write the deployable student after training: ``{work_dir}/final.pth``."""
import os.path as osp
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import weights_to_cpu

from jdbench.registry import HOOKS
from jdbench.utils.checkpoint import atomic_save


@HOOKS.register_module()
class ExportStudentHook(Hook):
    """After training, save the deployable model alone as ``{work_dir}/<filename>``.

    For a distiller (a model with ``export_state_dict()``) that is the student's ``state_dict`` only, with the
    keys of the plain student model (no teacher, connector or adaptor weights); for any other model its own
    ``state_dict``. The file holds ``state_dict`` and ``meta`` (config path, iteration, epoch, model type), so
    ``tools/test.py <student config> work_dirs/<run>/final.pth`` evaluates it. The file is written atomically
    (a temporary file renamed over it): a kill during the export leaves no half-written ``final.pth``.

    Args:
        filename (str): file name in the work dir. Defaults to ``'final.pth'``.
    """

    priority = 'LOW'

    def __init__(self, filename: str = 'final.pth') -> None:
        self.filename = filename
        self.path: Optional[str] = None

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        export = getattr(model, 'export_state_dict', None)
        state_dict = export() if callable(export) else model.state_dict()
        self.path = osp.join(runner.work_dir, self.filename)
        if not is_main_process():
            return
        meta = dict(config=str(getattr(runner.cfg, 'filename', None) or ''), iter=int(runner.iter),
                    epoch=int(runner.epoch), model_type=type(model).__name__, student_only=callable(export),
                    experiment_name=str(runner.experiment_name))
        atomic_save(dict(state_dict=weights_to_cpu(state_dict), meta=meta), self.path)
        runner.logger.info(f'deployable {"student" if callable(export) else "model"} written to {self.path}')
