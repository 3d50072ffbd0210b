"""One grasp trial in MuJoCo, with a stated protocol and its thresholds as parameters.

Protocol (defaults in `Protocol`):
1. **place**: the open gripper at the grasp pose, gravity off; any gripper-object contact
   deeper than `collision_depth` fails the trial at stage ``collision``;
2. **close**: both fingers pushed with the gripper's force for `close_time`;
3. **lift**: gravity on, the gripper raised by `lift_height` over `lift_time`, then held
   for `settle_time`; the object must still be held (stage ``lift``);
4. **shake**: `shake_cycles` of translations along x, y, z (amplitude `shake_distance`)
   and rotations about x, y, z (amplitude `shake_angle`) at `shake_frequency`; the object
   must still be held (stage ``shake``).

"Held" means: touching both finger pads, its centre within `hold_distance` of where it was in
the hand when the fingers had closed (an object grasped near one end starts far from the
grasp centre; what matters is that it stays put). Slip (mm) is how far the object's centre
moved in the gripper frame from the end of the close to the last moment it was held (the end
of the trial for a success); a failed trial also says where the object went (`lost`: its
centre in the gripper frame, m, when the failure was seen, and a sentence).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from workbench.tasks.grasping.gripper import GripperSpec, rotation_to_quat
from workbench.tasks.grasping.objects import GraspObject

STAGES = ("refused", "collision", "lift", "shake")


@dataclass(frozen=True)
class Protocol:
    timestep: float = 0.002  #: s
    collision_depth: float = 0.001  #: m of penetration that counts as starting in collision
    close_time: float = 0.5  #: s (fingers close at the gripper's speed, then squeeze)
    lift_height: float = 0.15  #: m
    lift_time: float = 0.6  #: s
    settle_time: float = 0.3  #: s
    shake_distance: float = 0.02  #: m
    shake_angle: float = 0.3  #: rad
    shake_frequency: float = 2.0  #: Hz
    shake_cycles: int = 1  #: per axis
    hold_distance: float = 0.03  #: m the object may move in the hand and still count as held
    control_steps: int = 5  #: physics steps per update of the gripper's target (5 x 2 ms = 100 Hz)
    gravity: float = 9.81  #: m/s^2 from the lift on
    noslip_iterations: int = 0  #: MuJoCo's no-slip solver passes (0: off): removes the creep of soft contacts
    impratio: float = 10.0  #: frictional to normal stiffness of contacts (MuJoCo's impratio)

    def steps(self) -> int:
        shake = 6 * self.shake_cycles / self.shake_frequency
        return int(round((self.close_time + self.lift_time + self.settle_time + shake) / self.timestep))


@dataclass
class TrialOutcome:
    index: int
    success: bool
    stage: str  #: "" on success, else where it failed: refused | collision | lift | shake
    slip_mm: float  #: mm the object moved in the gripper while held
    contacts: int  #: object-finger contacts at the end
    width: float  #: object extent along the closing axis, m
    reason: str = ""
    lost: tuple[float, float, float] | None = None  #: failed after closing: object centre in the gripper frame, m
    shake_mm: float = 0.0  #: the most the object's centre moved in the hand during the shake, mm
    shake_deg: float = 0.0  #: the most the object turned in the hand during the shake, degrees


def world_xml(obj: GraspObject, gripper: GripperSpec, protocol: Protocol) -> str:
    asset, geom = obj.mjcf_geom()
    bodies, actuators, equality = gripper.mjcf()
    return f"""<mujoco model="grasp">
  <option timestep="{protocol.timestep}" gravity="0 0 0" integrator="implicitfast" cone="elliptic"
          impratio="{protocol.impratio:g}" noslip_iterations="{protocol.noslip_iterations}"/>
  <visual><headlight ambient="0.45 0.45 0.45" diffuse="0.6 0.6 0.6"/></visual>
  <asset>{asset}<texture name="sky" type="skybox" builtin="gradient" rgb1="0.93 0.94 0.97" rgb2="0.65 0.7 0.8"
    width="64" height="64"/></asset>
  <worldbody>
    <light pos="0 0 1.5" dir="0 0 -1"/>
    <body name="object" pos="0 0 0"><freejoint name="object"/>{geom}</body>{bodies}
  </worldbody>
  <equality>{equality}</equality>
  <actuator>{actuators}</actuator>
</mujoco>"""


class Trial:
    """A compiled world that runs many trials (one `MjData` reset per trial)."""

    def __init__(self, obj: GraspObject, gripper: GripperSpec, protocol: Protocol):
        import mujoco

        self.mj = mujoco
        self.obj, self.gripper, self.protocol = obj, gripper, protocol
        self.model = mujoco.MjModel.from_xml_string(world_xml(obj, gripper, protocol))
        self.data = mujoco.MjData(self.model)
        m = self.model
        self.object_body = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "object")
        #: every collision geom of the object (a decomposed mesh has several)
        self.object_geoms = {i for i in range(m.ngeom) if m.geom_bodyid[i] == self.object_body}
        self.pads = {mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, n) for n in ("pad_left", "pad_right")}
        self.gripper_geoms = self.pads | {mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "palm")}
        self.gripper_body = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "gripper")

    # ---- helpers ---------------------------------------------------------------------------
    def _contacts(self) -> tuple[int, set[int], float]:
        """(object-gripper contacts, pads touched, deepest penetration)."""
        n, pads, depth = 0, set(), 0.0
        for c in self.data.contact[: self.data.ncon]:
            pair = {int(c.geom1), int(c.geom2)}
            if pair & self.object_geoms and pair & self.gripper_geoms:
                n += 1
                pads |= pair & self.pads
                depth = max(depth, -float(c.dist))
        return n, pads, depth

    def _object_turn(self) -> np.ndarray:
        """The object's orientation in the gripper frame (3 x 3)."""
        r = self.data.xmat[self.gripper_body].reshape(3, 3)
        return r.T @ self.data.xmat[self.object_body].reshape(3, 3)

    def _object_in_gripper(self) -> np.ndarray:
        """The object's centre in the (actual, welded) gripper frame."""
        r = self.data.xmat[self.gripper_body].reshape(3, 3)
        return r.T @ (self.data.xpos[self.object_body] - self.data.xpos[self.gripper_body])

    def _set_pose(self, pose: np.ndarray) -> None:
        self.data.mocap_pos[0] = pose[:3, 3]
        self.data.mocap_quat[0] = rotation_to_quat(pose[:3, :3])

    def _run(self, seconds: float, pose_at=None) -> None:
        """Step `seconds` of physics; the target follows `pose_at(s)` at the control rate."""
        steps = int(round(seconds / self.protocol.timestep))
        if pose_at is None:
            self.mj.mj_step(self.model, self.data, nstep=steps)
            return
        k = max(1, self.protocol.control_steps)
        ticks = -(-steps // k)
        for i in range(ticks):
            self.data.mocap_pos[0], self.data.mocap_quat[0] = pose_at((i + 1) / ticks)
            self.mj.mj_step(self.model, self.data, nstep=min(k, steps - i * k))

    def _held(self, start: np.ndarray) -> bool:
        _, pads, _ = self._contacts()
        return bool(len(pads) == 2 and np.linalg.norm(self._object_in_gripper() - start) <= self.protocol.hold_distance)

    def place(self, pose: np.ndarray) -> tuple[int, float]:
        """Reset the world with the open gripper at `pose`, gravity off; (contacts, deepest penetration)
        between gripper and object. The protocol's first stage, and the sampler's collision check."""
        self.mj.mj_resetData(self.model, self.data)
        self.model.opt.gravity[:] = 0
        self._set_pose(pose)
        self.data.qpos[7:10] = pose[:3, 3]  # the welded base starts on its target
        self.data.qpos[10:14] = rotation_to_quat(pose[:3, :3])
        self.data.ctrl[:] = -self.gripper.force  # hold the fingers open
        self.mj.mj_forward(self.model, self.data)
        n, _, depth = self._contacts()
        return n, depth

    def starts_in_collision(self, pose: np.ndarray, tolerance: float | None = None) -> bool:
        """Whether the open gripper at `pose` penetrates the object deeper than `tolerance` (default:
        the protocol's; the sampler asks for none at all, so its poses pass any collision check)."""
        n, depth = self.place(pose)
        return bool(n) and depth > (self.protocol.collision_depth if tolerance is None else tolerance)

    # ---- the protocol ------------------------------------------------------------------------
    def run(self, index: int, pose: np.ndarray, width: float) -> TrialOutcome:
        p, g = self.protocol, self.gripper
        if width > g.max_opening:
            return TrialOutcome(index, False, "refused", 0.0, 0, width,
                                f"the object is {width * 1000:.0f} mm wide along the closing axis; the gripper "
                                f"opens {g.max_opening * 1000:.0f} mm")
        n, depth = self.place(pose)
        if n and depth > p.collision_depth:
            return TrialOutcome(index, False, "collision", 0.0, n, width,
                                f"the open gripper starts {depth * 1000:.1f} mm inside the object")
        self.data.ctrl[:] = g.force  # close at the gripper's speed, then squeeze with its force
        self._run(p.close_time)
        start = self._object_in_gripper()
        self.model.opt.gravity[:] = (0, 0, -p.gravity)
        lifted = pose.copy()
        lifted[2, 3] += p.lift_height
        base_pos, base_quat = pose[:3, 3].copy(), rotation_to_quat(pose[:3, :3])
        up = np.array([0.0, 0.0, p.lift_height])

        def lift(s: float) -> tuple[np.ndarray, np.ndarray]:
            return base_pos + up * (3 * s**2 - 2 * s**3), base_quat  # smooth start and stop

        self._run(p.lift_time, lift)
        self._run(p.settle_time)
        if not self._held(start):
            return self._fail(index, "lift", 0.0, width, start)
        slip = self._slip(start)
        before_shake, turn_before = self._object_in_gripper(), self._object_turn()
        shake_mm = shake_deg = 0.0
        period = 1.0 / p.shake_frequency
        top = base_pos + up
        quat = np.zeros(4)
        for axis in range(6):
            def shake(s: float, axis: int = axis) -> tuple[np.ndarray, np.ndarray]:
                phase = np.sin(2 * np.pi * s * p.shake_cycles)
                if axis < 3:
                    pos = top.copy()
                    pos[axis] += p.shake_distance * phase
                    return pos, base_quat
                half = 0.5 * p.shake_angle * phase  # rotate about the gripper's own axis
                turn = np.array([np.cos(half), 0.0, 0.0, 0.0])
                turn[axis - 2] = np.sin(half)
                self.mj.mju_mulQuat(quat, base_quat, turn)
                return top, quat

            self._run(period * p.shake_cycles, shake)
            moved = float(np.linalg.norm(self._object_in_gripper() - before_shake)) * 1000
            shake_mm = max(shake_mm, moved)
            turned = self._object_turn() @ turn_before.T
            shake_deg = max(shake_deg, float(np.degrees(np.arccos(np.clip((np.trace(turned) - 1) / 2, -1, 1)))))
            if self._held(start):
                slip = self._slip(start)
        self._set_pose(lifted)
        shake_mm, shake_deg = round(shake_mm, 3), round(shake_deg, 3)
        if not self._held(start):
            return replace(self._fail(index, "shake", slip, width, start), shake_mm=shake_mm, shake_deg=shake_deg)
        n, _, _ = self._contacts()
        return TrialOutcome(index, True, "", self._slip(start), n, width, shake_mm=shake_mm, shake_deg=shake_deg)

    def _slip(self, start: np.ndarray) -> float:
        return round(float(np.linalg.norm(self._object_in_gripper() - start)) * 1000, 3)

    def _fail(self, index: int, stage: str, slip_mm: float, width: float, start: np.ndarray) -> TrialOutcome:
        """A failure after the close, saying where the object went."""
        n, pads, _ = self._contacts()
        where = self._object_in_gripper()
        moved = float(np.linalg.norm(where - start)) * 1000
        during = "during the lift" if stage == "lift" else "while shaking"
        if not n:
            reason = f"the object fell out of the hand {during}: no contact, {moved:.0f} mm from where it was held"
        elif len(pads) < 2:
            reason = (f"the object slid out {during}: it touches {len(pads) or 'no'} finger pad(s), {moved:.0f} mm "
                      "from where it was held")
        else:
            reason = f"the object slid {moved:.0f} mm in the hand {during}"
        x, y, z = (round(float(v), 5) for v in where)
        return TrialOutcome(index, False, stage, slip_mm, n, width, reason, (x, y, z))
