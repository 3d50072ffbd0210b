"""Pure task functions: `run(request, ctx) -> Result`, with `ctx` a `workbench.contract.TaskContext`.

Tasks never choose a device and never touch a view; see `workbench.tasks.registry`.
"""

from workbench.tasks.registry import TASKS, TaskSpec, get_task, register, task_function

__all__ = ["TASKS", "TaskSpec", "get_task", "register", "task_function"]
