"""Robot-grasp simulation: objects, a parallel-jaw gripper, antipodal sampling, MuJoCo trials.

Offscreen rendering needs a GL back-end chosen before MuJoCo is imported; EGL is the
default here (headless servers and CI), `MUJOCO_GL=osmesa` is the software fall-back.
"""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
