"""Open-instruction 6-DoF rearrangement on a MuJoCo tabletop: scenes, an instruction parser,
a planner (target pose, grasp, regrasp), execution with the free-floating Franka hand, and the
benchmark's position / rotation / 6-DoF judgement."""

from workbench.tasks import grasping as _grasping  # noqa: F401 - picks MuJoCo's offscreen GL first
