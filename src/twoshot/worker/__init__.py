"""Workers: claim a task, run its engine, finish it; heartbeats keep the lease meanwhile."""

from twoshot.worker.loop import Worker, WorkerState

__all__ = ["Worker", "WorkerState"]
