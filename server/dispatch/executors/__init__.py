"""Executors: where jobs run. One abstract class; ``local`` and ``slurm`` implementations."""

from hcdc_server.dispatch.executors.base import Executor, JobState, Submission
from hcdc_server.dispatch.executors.local import LocalExecutor
from hcdc_server.dispatch.executors.slurm import SlurmExecutor, slurm_ready

__all__ = ["Executor", "JobState", "LocalExecutor", "SlurmExecutor", "Submission", "slurm_ready"]
