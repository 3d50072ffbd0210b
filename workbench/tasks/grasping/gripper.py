"""A generic free-floating parallel-jaw gripper, written as MJCF.

Frame (as in ACRONYM-style grasp transforms): origin at the palm centre, +z is the
approach direction, the fingers close along y. The base is a free body welded to a mocap
target (a kinematic mocap body has no velocity, so friction would not carry the object;
the weld gives the base real dynamics while following the target closely); each finger
is a slide joint driven by a force actuator, so "close with a set force" is literal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.contract.errors import InputError


@dataclass(frozen=True)
class GripperSpec:
    name: str = "parallel-jaw"
    max_opening: float = 0.085  #: m between the finger pads when open
    finger_depth: float = 0.05  #: m, finger length along the approach axis
    finger_width: float = 0.02  #: m, along x
    finger_thickness: float = 0.01  #: m, along y
    palm_height: float = 0.02  #: m
    force: float = 40.0  #: N per finger when closing
    friction: float = 1.0

    def __post_init__(self) -> None:
        for field in ("max_opening", "finger_depth", "finger_width", "finger_thickness", "palm_height", "force",
                      "friction"):
            if getattr(self, field) <= 0:
                raise InputError(f"gripper {field} must be positive.")

    @property
    def grasp_depth(self) -> float:
        """z of the grasp centre (middle of the finger pads) in the gripper frame."""
        return self.palm_height / 2 + self.finger_depth / 2

    def mjcf(self) -> str:
        """The gripper's bodies (to go inside <worldbody>) and actuators."""
        half_open = self.max_opening / 2
        t, w, d, ph = self.finger_thickness, self.finger_width, self.finger_depth, self.palm_height
        palm_y = half_open + t
        fz = ph / 2 + d / 2
        fr = f'friction="{self.friction:.4g} 0.02 0.0002" condim="6"'
        bodies = f"""
    <body name="target" mocap="true" pos="0 0 0.5"/>
    <body name="gripper" pos="0 0 0.5">
      <freejoint name="gripper"/>
      <geom name="palm" type="box" size="{w / 2 + 0.005:.5g} {palm_y:.5g} {ph / 2:.5g}" rgba="0.3 0.3 0.35 1"
            {fr} mass="0.3"/>
      <body name="finger_left" pos="0 {half_open + t / 2:.5g} {fz:.5g}">
        <joint name="left" type="slide" axis="0 -1 0" range="0 {half_open:.5g}" damping="5" armature="0.01"/>
        <geom name="pad_left" type="box" size="{w / 2:.5g} {t / 2:.5g} {d / 2:.5g}" rgba="0.2 0.6 0.9 1"
              {fr} mass="0.05"/>
      </body>
      <body name="finger_right" pos="0 {-(half_open + t / 2):.5g} {fz:.5g}">
        <joint name="right" type="slide" axis="0 1 0" range="0 {half_open:.5g}" damping="5" armature="0.01"/>
        <geom name="pad_right" type="box" size="{w / 2:.5g} {t / 2:.5g} {d / 2:.5g}" rgba="0.2 0.6 0.9 1"
              {fr} mass="0.05"/>
      </body>
    </body>"""
        actuators = f"""
    <motor name="close_left" joint="left" gear="1" ctrlrange="-{self.force:.5g} {self.force:.5g}"/>
    <motor name="close_right" joint="right" gear="1" ctrlrange="-{self.force:.5g} {self.force:.5g}"/>"""
        equality = '<weld body1="target" body2="gripper" solref="0.004 1"/>'
        return bodies + "\n", actuators, equality


GRIPPERS = {"parallel-jaw": GripperSpec(), "wide": GripperSpec(name="wide", max_opening=0.14, finger_depth=0.06)}


def get_gripper(name: str, **overrides: float) -> GripperSpec:
    try:
        base = GRIPPERS[name]
    except KeyError:
        raise InputError(f"Unknown gripper {name!r}; choose from {', '.join(GRIPPERS)}.") from None
    if overrides:
        from dataclasses import replace

        return replace(base, **{k: v for k, v in overrides.items() if v is not None})
    return base


def rotation_to_quat(r: np.ndarray) -> np.ndarray:
    """MuJoCo (w, x, y, z) quaternion of a rotation matrix."""
    import mujoco

    q = np.zeros(4)
    mujoco.mju_mat2Quat(q, np.asarray(r, dtype=float).ravel())
    return q
