"""The MuJoCo tabletop: a table, the scene's objects on free joints, and the free-floating
Franka hand of the grasp task (welded to a mocap target, fingers driven by force).

`TableWorld` is both the planner's geometry oracle (how far the open gripper at a pose is from
everything else: `clearance`, with MuJoCo's own collision geometry) and the executor (move the
hand along a path at the control rate, close, open, let the scene settle), with an optional
frame callback for pictures.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from pathlib import Path

import numpy as np

from workbench.tasks.grasping.gripper import GripperSpec, rotation_to_quat
from workbench.tasks.rearrange.scene import TABLE, Scene

TIMESTEP = 0.002  #: s
CONTROL_STEPS = 5  #: physics steps per update of the hand's target (100 Hz)
TICK_STEPS = 250  #: physics steps between two `on_tick` calls (0.5 s simulated)
HOME = np.array([0.0, -0.1, 0.45])  #: where the hand waits, m


def world_xml(scene: Scene, gripper: GripperSpec) -> str:
    assets, bodies = [], []
    for p in scene.objects:
        obj = scene.grasp_objects[p.name]
        asset, geom = obj.mjcf_geom(name=p.name)
        rgba = " ".join(f"{c:.3g}" for c in p.colour) + " 1"
        geom = geom.replace('rgba="0.8 0.6 0.3 1"', f'rgba="{rgba}"')
        pose = scene.resting_pose(p.name)
        pos = " ".join(f"{v:.6g}" for v in pose[:3, 3])
        quat = " ".join(f"{v:.6g}" for v in p.quat)
        assets.append(asset)
        bodies.append(f'<body name="{p.name}" pos="{pos}" quat="{quat}"><freejoint name="{p.name}"/>{geom}</body>')
    hand, actuators, equality = gripper.mjcf()
    hand = hand.replace('pos="0 0 0.5"', 'pos="{:.4g} {:.4g} {:.4g}"'.format(*HOME))
    sx, sy = TABLE
    return f"""<mujoco model="tabletop">
  <option timestep="{TIMESTEP}" integrator="implicitfast" cone="elliptic" impratio="10"/>
  <visual><headlight ambient="0.45 0.45 0.45" diffuse="0.6 0.6 0.6"/><global offwidth="640" offheight="480"/></visual>
  <asset>{"".join(assets)}
    <texture name="grid" type="2d" builtin="checker" rgb1="0.78 0.74 0.68" rgb2="0.72 0.68 0.62"
             width="256" height="256"/>
    <material name="table" texture="grid" texrepeat="10 8" reflectance="0.05"/>
    <texture name="sky" type="skybox" builtin="gradient" rgb1="0.93 0.94 0.97" rgb2="0.65 0.7 0.8"
             width="64" height="64"/>
  </asset>
  <worldbody>
    <light pos="0 -0.3 1.5" dir="0 0.2 -1"/>
    <geom name="table" type="box" size="{sx} {sy} 0.02" pos="0 0 -0.02" material="table" friction="1 0.02 0.0002"/>
    {"".join(bodies)}{hand}
  </worldbody>
  <equality>{equality}</equality>
  <actuator>{actuators}</actuator>
</mujoco>"""


def _smooth(s: float) -> float:
    return 3 * s * s - 2 * s**3


class TableWorld:
    def __init__(self, scene: Scene, gripper: GripperSpec):
        import mujoco

        self.mj = mujoco
        self.scene, self.gripper = scene, gripper
        self.model = mujoco.MjModel.from_xml_string(world_xml(scene, gripper))
        self.data = mujoco.MjData(self.model)
        m = self.model
        name2id = lambda kind, n: mujoco.mj_name2id(m, kind, n)  # noqa: E731
        self.body = {p.name: name2id(mujoco.mjtObj.mjOBJ_BODY, p.name) for p in scene.objects}
        self.qpos = {p.name: int(m.jnt_qposadr[name2id(mujoco.mjtObj.mjOBJ_JOINT, p.name)]) for p in scene.objects}
        self.geoms = {p.name: [g for g in range(m.ngeom) if m.geom_bodyid[g] == self.body[p.name]]
                      for p in scene.objects}
        self.table = name2id(mujoco.mjtObj.mjOBJ_GEOM, "table")
        self.hand_body = name2id(mujoco.mjtObj.mjOBJ_BODY, "gripper")
        self.hand_qpos = int(m.jnt_qposadr[name2id(mujoco.mjtObj.mjOBJ_JOINT, "gripper")])
        self.fingers = [int(m.jnt_qposadr[name2id(mujoco.mjtObj.mjOBJ_JOINT, n)]) for n in ("left", "right")]
        self.pads = {name2id(mujoco.mjtObj.mjOBJ_GEOM, n) for n in ("pad_left", "pad_right")}
        self.hand_geoms = sorted(self.pads | {name2id(mujoco.mjtObj.mjOBJ_GEOM, "palm")})
        self.on_frame: Callable[[], None] | None = None
        self.frame_every = 0
        #: called with the simulated time every TICK_S simulated seconds (progress, and where a cancel lands)
        self.on_tick: Callable[[float], None] | None = None
        self._steps = 0
        self.target = np.eye(4)
        self.target[:3, 3] = HOME
        self.target[:3, :3] = np.diag([1.0, -1.0, -1.0])  # approach straight down
        self.reset()

    # ---- state -----------------------------------------------------------------------------
    def reset(self) -> None:
        self.mj.mj_resetData(self.model, self.data)
        self._put_hand(self.target)
        self.data.ctrl[:] = -self.gripper.force
        self.mj.mj_forward(self.model, self.data)

    def _put_hand(self, pose: np.ndarray) -> None:
        q = rotation_to_quat(pose[:3, :3])
        self.data.mocap_pos[0], self.data.mocap_quat[0] = pose[:3, 3], q
        a = self.hand_qpos
        self.data.qpos[a:a + 3], self.data.qpos[a + 3:a + 7] = pose[:3, 3], q

    def pose(self, name: str) -> np.ndarray:
        out = np.eye(4)
        b = self.body[name]
        out[:3, :3] = self.data.xmat[b].reshape(3, 3)
        out[:3, 3] = self.data.xpos[b]
        return out

    def poses(self) -> dict[str, np.ndarray]:
        return {name: self.pose(name) for name in self.body}

    def set_pose(self, name: str, pose: np.ndarray) -> None:
        a = self.qpos[name]
        self.data.qpos[a:a + 3] = pose[:3, 3]
        self.data.qpos[a + 3:a + 7] = rotation_to_quat(pose[:3, :3])
        self.data.qvel[self.model.jnt_dofadr[self.model.body_jntadr[self.body[name]]]:][:6] = 0

    # ---- geometry ----------------------------------------------------------------------------
    def clearance(self, hand: np.ndarray, ignore: AbstractSet[str] = frozenset(),
                  moved: dict[str, np.ndarray] | None = None, reach: float = 0.05) -> float:
        """The smallest distance (m, up to `reach`) between the open hand at `hand` and the table or
        any object not in `ignore`, with the objects in `moved` at those poses. The world's state is
        left as it was."""
        saved = self.data.qpos.copy()
        try:
            self._put_hand(hand)
            for f in self.fingers:
                self.data.qpos[f] = 0.0  # open
            for name, pose in (moved or {}).items():
                self.set_pose(name, pose)
            self.mj.mj_kinematics(self.model, self.data)
            others = [self.table] + [g for n, gs in self.geoms.items() if n not in ignore for g in gs]
            best = reach
            for h in self.hand_geoms:
                for g in others:
                    best = min(best, self.mj.mj_geomDistance(self.model, self.data, h, g, reach, None))
            return float(best)
        finally:
            self.data.qpos[:] = saved
            self.mj.mj_kinematics(self.model, self.data)

    def touching_pads(self, name: str) -> int:
        """How many finger pads touch object `name`."""
        pads = set()
        geoms = set(self.geoms[name])
        for c in self.data.contact[: self.data.ncon]:
            pair = {int(c.geom1), int(c.geom2)}
            if pair & geoms:
                pads |= pair & self.pads
        return len(pads)

    # ---- motion ------------------------------------------------------------------------------
    def step(self, steps: int) -> None:
        for _ in range(steps):
            self.mj.mj_step(self.model, self.data)
            self._steps += 1
            if self.on_frame is not None and self.frame_every and self._steps % self.frame_every == 0:
                self.on_frame()
            if self.on_tick is not None and self._steps % TICK_STEPS == 0:
                self.on_tick(self._steps * TIMESTEP)

    def settle(self, seconds: float) -> None:
        self.step(int(round(seconds / TIMESTEP)))

    def move(self, pose: np.ndarray, speed: float = 0.25, turn_speed: float = 2.0) -> None:
        """Move the hand's target in a straight line (and a slerp) from where it is to `pose`."""
        start = self.target
        distance = float(np.linalg.norm(pose[:3, 3] - start[:3, 3]))
        turn = float(np.arccos(np.clip((np.trace(start[:3, :3].T @ pose[:3, :3]) - 1) / 2, -1, 1)))
        seconds = max(0.15, distance / speed, turn / turn_speed)
        q0, q1 = rotation_to_quat(start[:3, :3]), rotation_to_quat(pose[:3, :3])
        ticks = max(1, int(round(seconds / (TIMESTEP * CONTROL_STEPS))))
        for i in range(ticks):
            s = _smooth((i + 1) / ticks)
            self.data.mocap_pos[0] = start[:3, 3] + s * (pose[:3, 3] - start[:3, 3])
            self.data.mocap_quat[0] = _slerp(q0, q1, s)
            self.step(CONTROL_STEPS)
        self.target = pose.copy()

    def close(self, seconds: float = 0.6) -> None:
        self.data.ctrl[:] = self.gripper.force
        self.settle(seconds)

    def open(self, seconds: float = 0.5) -> None:
        self.data.ctrl[:] = -self.gripper.force
        self.settle(seconds)


def _slerp(q0: np.ndarray, q1: np.ndarray, s: float) -> np.ndarray:
    dot = float(q0 @ q1)
    if dot < 0:
        q1, dot = -q1, -dot
    if dot > 0.9995:
        q = q0 + s * (q1 - q0)
        return q / np.linalg.norm(q)
    theta = np.arccos(dot)
    return (np.sin((1 - s) * theta) * q0 + np.sin(s * theta) * q1) / np.sin(theta)


def save_scene(scene: Scene, folder: Path, stem: str = "scene") -> dict[str, Path]:
    """`<stem>.json` (the scene, reloadable with `load_scene`) and `<stem>.xml` (its MuJoCo world: table,
    objects, gripper)."""
    from workbench.tasks.grasping.gripper import get_gripper

    folder.mkdir(parents=True, exist_ok=True)
    description = folder / f"{stem}.json"
    description.write_text(json.dumps(scene.to_json(), indent=2))
    mjcf = folder / f"{stem}.xml"
    mjcf.write_text(world_xml(scene, get_gripper("franka")))
    return {"scene": description, "mjcf": mjcf}
