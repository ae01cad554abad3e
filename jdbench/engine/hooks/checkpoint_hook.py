"""mmengine's ``CheckpointHook`` with writes that a kill cannot leave half done."""
import os.path as osp
from typing import List

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook

from jdbench.registry import HOOKS
from jdbench.utils.checkpoint import NO_SPACE, PART_SUFFIX, atomic_write, discard, no_space_error, publish


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments), safe against a kill at any moment.

    * Each ``iter_<N>.pth`` is written to ``iter_<N>.pth.part`` in the same folder, fsynced and renamed over
      ``iter_<N>.pth``: a kill while saving leaves the previous checkpoints and no half-written one.
    * ``last_checkpoint`` (the pointer ``--resume`` follows) is replaced the same way, after the checkpoint.
    * With ``max_keep_ckpts``, outdated checkpoints are deleted only once the new checkpoint and the pointer
      are in place (mmengine deletes first, so with ``max_keep_ckpts=1`` a kill in between would leave none).
    * A full disk raises an error that names the file and the free space.

    Checkpoints outside the local file system (another ``backend_args``), and ``save_best``'s, are written by
    mmengine as before.
    """

    def _atomic(self) -> bool:
        return isinstance(self.file_backend, LocalBackend)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not self._atomic():
            return super()._save_checkpoint_with_step(runner, step, meta)
        outdated: List[int] = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)  # saved in the checkpoint's message hub, as mmengine does
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        part = self.last_ckpt + PART_SUFFIX
        try:
            runner.save_checkpoint(self.out_dir, filename + PART_SUFFIX, self.file_client_args,
                                   save_optimizer=self.save_optimizer,
                                   save_param_scheduler=self.save_param_scheduler, meta=meta,
                                   by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
        except OSError as err:
            discard(part)
            raise no_space_error(self.last_ckpt, err) if err.errno in NO_SPACE else err
        if not is_main_process():  # rank 0 alone writes (Runner.save_checkpoint is master-only)
            return
        publish(part, self.last_ckpt)
        with atomic_write(osp.join(runner.work_dir, 'last_checkpoint'), 'w') as f:
            f.write(self.last_ckpt)
        for old in outdated:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                self.file_backend.rmtree(path)
