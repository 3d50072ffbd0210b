"""Free-floating parallel-jaw grippers, written as MJCF, in ACRONYM's Franka hand frame.

Frame (the convention of ACRONYM's grasp files, for every gripper here): the origin is the
base of the hand (where it meets the arm's flange), +z is the approach direction, the
fingers close along x, y runs along the finger pads' width. For the Franka (Panda) hand this
puts the finger pads at x = +-0.04 m when open and the fingertips between z = 0.066 m and
0.112 m, which is where ACRONYM's Franka marker draws them; a pose exported here can be
drawn or re-simulated with ACRONYM's tools without any change of frame.

The base is a free body welded to a mocap target (a kinematic mocap body has no velocity,
so friction would not carry the object; the weld gives the base real dynamics while it
follows the target closely). The fingers are slide joints coupled like the Panda's (one
mimics the other, so the object is centred, not shoved), each pushed by a motor with
`force` against a joint damping of force / `close_speed`: they close at `close_speed` until
they touch, then squeeze with exactly `force` per finger (damping vanishes at rest, and
MuJoCo integrates it implicitly, so it is stable at any value). With the old light damping,
40 N fingers reached metres per second before contact and knocked small objects away.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.contract.errors import InputError


@dataclass(frozen=True)
class GripperSpec:
    name: str = "franka"
    max_opening: float = 0.08  #: m between the finger pads when open
    finger_length: float = 0.0538  #: m, finger length along the approach axis (palm face to tip)
    pad_length: float = 0.0462  #: m, the gripping part of the finger, ending at the tip
    finger_width: float = 0.02  #: m, along y
    finger_thickness: float = 0.012  #: m, along x
    palm_z: float = 0.0584  #: m, z of the palm face (where the fingers start)
    hand_half_x: float = 0.1025  #: m, half the hand's length along the closing axis
    hand_half_y: float = 0.0315  #: m, half the hand's thickness
    force: float = 70.0  #: N per finger when squeezing (Panda hand: 70 N continuous)
    friction: float = 1.0
    close_speed: float = 0.1  #: m/s per finger before contact

    def __post_init__(self) -> None:
        for field in ("max_opening", "finger_length", "pad_length", "finger_width", "finger_thickness", "palm_z",
                      "hand_half_x", "hand_half_y", "force", "friction", "close_speed"):
            value = getattr(self, field)
            if not 0 < value < 1e6:
                raise InputError(f"gripper {field} must be a positive number, not {value}.")
        if self.pad_length > self.finger_length:
            raise InputError("gripper pad_length cannot exceed finger_length.")
        if self.hand_half_x < self.max_opening / 2 + self.finger_thickness:
            object.__setattr__(self, "hand_half_x", self.max_opening / 2 + self.finger_thickness)

    @property
    def tip_z(self) -> float:
        """z of the fingertips."""
        return self.palm_z + self.finger_length

    @property
    def pad_start_z(self) -> float:
        return self.tip_z - self.pad_length

    @property
    def grasp_depth(self) -> float:
        """z of the grasp centre: the midpoint of the finger pads, between the two fingers."""
        return self.tip_z - self.pad_length / 2

    def contact_z(self, depth: float) -> float:
        """z of a contact line `depth` of the way along the pads (0: the palm end, 1: the tips)."""
        return self.pad_start_z + depth * self.pad_length

    def metadata(self) -> dict[str, float | str]:
        """What an ACRONYM file records as `gripper/configuration`."""
        return {"name": self.name, "max_opening": self.max_opening, "finger_length": self.finger_length,
                "pad_length": self.pad_length, "finger_width": self.finger_width,
                "finger_thickness": self.finger_thickness, "palm_z": self.palm_z, "force": self.force,
                "friction": self.friction, "frame": "ACRONYM Franka: approach +z, closing along x"}

    def boxes(self, opening: float | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """The collision boxes (centre, half sizes) of the hand and both fingers at `opening`
        (default: fully open), in the gripper frame: what a collision check of a pose uses."""
        half_open = (self.max_opening if opening is None else opening) / 2
        t, w, f = self.finger_thickness, self.finger_width, self.finger_length
        finger_z = self.palm_z + f / 2
        return [
            (np.array([0.0, 0.0, self.palm_z / 2]), np.array([self.hand_half_x, self.hand_half_y, self.palm_z / 2])),
            (np.array([half_open + t / 2, 0.0, finger_z]), np.array([t / 2, w / 2, f / 2])),
            (np.array([-(half_open + t / 2), 0.0, finger_z]), np.array([t / 2, w / 2, f / 2])),
        ]

    def mjcf(self) -> tuple[str, str, str]:
        """The gripper's bodies (to go inside <worldbody>), actuators and equality constraints."""
        half_open = self.max_opening / 2
        t, w, f = self.finger_thickness, self.finger_width, self.finger_length
        finger_z = self.palm_z + f / 2
        fr = f'friction="{self.friction:.4g} 0.02 0.0002" condim="6"'
        damping = self.force / self.close_speed  # terminal speed force/damping; stalled, the squeeze is the force
        bodies = f"""
    <body name="target" mocap="true" pos="0 0 0.5"/>
    <body name="gripper" pos="0 0 0.5">
      <freejoint name="gripper"/>
      <geom name="palm" type="box" size="{self.hand_half_x:.5g} {self.hand_half_y:.5g} {self.palm_z / 2:.5g}"
            pos="0 0 {self.palm_z / 2:.5g}" rgba="0.85 0.85 0.88 1" {fr} mass="0.6"/>
      <body name="finger_left" pos="{half_open + t / 2:.5g} 0 {finger_z:.5g}">
        <joint name="left" type="slide" axis="-1 0 0" range="0 {half_open:.5g}"
               damping="{damping:.5g}" armature="0.05"/>
        <geom name="pad_left" type="box" size="{t / 2:.5g} {w / 2:.5g} {f / 2:.5g}"
              rgba="0.25 0.25 0.28 1" {fr} mass="0.015"/>
      </body>
      <body name="finger_right" pos="{-(half_open + t / 2):.5g} 0 {finger_z:.5g}">
        <joint name="right" type="slide" axis="1 0 0" range="0 {half_open:.5g}"
               damping="{damping:.5g}" armature="0.05"/>
        <geom name="pad_right" type="box" size="{t / 2:.5g} {w / 2:.5g} {f / 2:.5g}"
              rgba="0.25 0.25 0.28 1" {fr} mass="0.015"/>
      </body>
    </body>"""
        limit = f'ctrllimited="true" ctrlrange="-{self.force:.5g} {self.force:.5g}"'
        actuators = f"""
    <motor name="close_left" joint="left" gear="1" {limit}/>
    <motor name="close_right" joint="right" gear="1" {limit}/>"""
        equality = ('<weld body1="target" body2="gripper" solref="0.004 1"/>'
                    '<joint joint1="left" joint2="right" polycoef="0 1 0 0 0" solref="0.005 1"/>')
        return bodies + "\n", actuators, equality


GRIPPERS = {
    "franka": GripperSpec(),
    "parallel-jaw": GripperSpec(name="parallel-jaw", max_opening=0.085, finger_length=0.05, pad_length=0.05,
                                finger_thickness=0.01, palm_z=0.02, hand_half_x=0.0625, hand_half_y=0.015,
                                force=40.0),
    "wide": GripperSpec(name="wide", max_opening=0.14, finger_length=0.06, pad_length=0.06, finger_thickness=0.01,
                        palm_z=0.02, hand_half_x=0.09, hand_half_y=0.015, force=40.0),
}


def get_gripper(name: str, **overrides: float | None) -> GripperSpec:
    try:
        base = GRIPPERS[name]
    except KeyError:
        raise InputError(f"Unknown gripper {name!r}; choose from {', '.join(GRIPPERS)}.") from None
    if "finger_depth" in overrides:  # the older name of the request field: the gripping pads
        depth = overrides.pop("finger_depth")
        if depth is not None:
            overrides["pad_length"] = depth
            overrides["finger_length"] = max(base.finger_length - base.pad_length + depth, depth)
    changes: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    if changes:
        from dataclasses import replace

        return replace(base, **changes)
    return base


def rotation_to_quat(r: np.ndarray) -> np.ndarray:
    """MuJoCo (w, x, y, z) quaternion of a rotation matrix."""
    import mujoco

    q = np.zeros(4)
    mujoco.mju_mat2Quat(q, np.asarray(r, dtype=float).ravel())
    return q
