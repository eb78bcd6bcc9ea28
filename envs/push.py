"""Push-v0: push a puck onto a target disc with a planar pusher.

Version history:
    v0: mocap pusher at a fixed height moving up to 0.02 m per step per axis (as in
        VICE-RAQ's simulated push); puck on x/y slide joints; fixed target; the pusher
        starts behind the puck (docs/ARCHITECTURE.md, calibration: this halves the steps SAC needs).
        Cylinders are drawn with 16 slices, 4 stacks (before any release; 12 pixels of a 64x64
        frame differ from MuJoCo's default tessellation).
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np

from envs.base import MujocoTaskEnv

MAX_STEP = 0.02  # metres of pusher travel per env step at |action| = 1
SUCCESS_RADIUS = 0.05  # metres between puck and target centres
TARGET = np.array([0.0, 0.15])  # metres, table frame
TABLE_LOW = np.array([-0.27, -0.22])  # metres: where the pusher may go
TABLE_HIGH = np.array([0.27, 0.32])
PUCK_RADIUS = 0.03  # metres
PUSHER_RADIUS = 0.02  # metres
SUBSTEPS = 10  # physics steps of 5 ms per env step: 20 Hz control


class PushEnv(MujocoTaskEnv):
    """A planar pusher pushes a puck to a target.

    * Action: ``(2,)`` in ``[-1, 1]``: pusher displacement, ``MAX_STEP`` metres per unit.
    * State: ``(4,)`` float32: pusher x, y and puck x, y in metres.
    * Start: puck at ``y = 0``, ``x ~ U[-0.1, 0.1]``; pusher 0.1 m behind it (``-y``),
      ``x`` within 3 cm of the puck's.
    * Success: puck centre within ``SUCCESS_RADIUS`` (5 cm) of the target at ``(0, 0.15)``.
    * Reward: ground-truth success, 0 or 1; ``info`` holds the distances.
    """

    scene = "push.xml"
    state_size = 4
    proprio = (0, 1)  # the pusher's x, y; the puck's (2, 3) are object state
    state_bound = 0.5  # metres: the puck's joint limits keep it on the table
    action_size = 2

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._puck_qpos = [self.model.joint(n).qposadr[0] for n in ("puck_x", "puck_y")]
        self._puck_qvel = [self.model.joint(n).dofadr[0] for n in ("puck_x", "puck_y")]
        self._puck_body = self.model.body("puck").id
        self._pusher_mocap = self.model.body("pusher").mocapid[0]

    @property
    def pusher_xy(self) -> np.ndarray:
        """Pusher centre, metres, ``(2,)``."""
        return self.data.mocap_pos[self._pusher_mocap, :2].copy()

    @property
    def puck_xy(self) -> np.ndarray:
        """Puck centre, metres, ``(2,)``."""
        return self.data.xpos[self._puck_body, :2].copy()

    def _place(self, pusher_xy: np.ndarray, puck_xy: np.ndarray) -> None:
        # The puck body sits at the origin of its slide joints, so qpos is its position.
        self.data.qpos[self._puck_qpos] = puck_xy
        self.data.qvel[self._puck_qvel] = 0.0
        self.data.mocap_pos[self._pusher_mocap, :2] = pusher_xy
        mujoco.mj_forward(self.model, self.data)

    def _reset_task(self) -> None:
        puck = np.array([self.np_random.uniform(-0.1, 0.1), 0.0])
        pusher = puck + np.array([self.np_random.uniform(-0.03, 0.03), -0.1])
        self._place(pusher, puck)

    def _apply_action(self, action: np.ndarray) -> None:
        start = self.pusher_xy
        goal = np.clip(start + MAX_STEP * action, TABLE_LOW, TABLE_HIGH)
        # Move the mocap body in small increments so contacts stay gentle.
        for k in range(1, SUBSTEPS + 1):
            self.data.mocap_pos[self._pusher_mocap, :2] = start + (goal - start) * k / SUBSTEPS
            mujoco.mj_step(self.model, self.data)

    def _state(self) -> np.ndarray:
        return np.concatenate([self.pusher_xy, self.puck_xy]).astype(np.float32)

    def _task_info(self) -> dict[str, Any]:
        puck = self.puck_xy
        distance = float(np.linalg.norm(puck - TARGET))
        return {
            "is_success": distance < SUCCESS_RADIUS,
            "puck_to_target": distance,
            "pusher_to_puck": float(np.linalg.norm(self.pusher_xy - puck)),
        }

    def set_random_success_state(self, rng: np.random.Generator) -> Any:
        """Puck inside the target disc, pusher anywhere on the table that does not overlap it."""
        angle, radius = rng.uniform(0, 2 * np.pi), 0.8 * SUCCESS_RADIUS * np.sqrt(rng.uniform())
        puck = TARGET + radius * np.array([np.cos(angle), np.sin(angle)])
        while True:
            pusher = rng.uniform(TABLE_LOW, TABLE_HIGH)
            if np.linalg.norm(pusher - puck) > PUCK_RADIUS + PUSHER_RADIUS + 0.01:
                break
        self._place(pusher, puck)
        return self._observation()

    def scripted_action(self) -> np.ndarray:
        """A hand-written controller: get behind the puck on the target line, then push."""
        puck, pusher = self.puck_xy, self.pusher_xy
        direction = TARGET - puck
        direction /= np.linalg.norm(direction) + 1e-9
        behind = puck - direction * (PUCK_RADIUS + PUSHER_RADIUS + 0.01)
        off_line = np.linalg.norm(pusher - behind)
        if off_line > 0.015:
            # Go around the puck rather than through it: aim wide while still in front of it.
            waypoint = behind
            if np.dot(pusher - puck, direction) > -0.02:
                side = np.array([-direction[1], direction[0]])
                side *= np.sign(np.dot(pusher - puck, side)) or 1.0
                waypoint = puck + side * 0.07 - direction * 0.03
            target = waypoint
        else:
            target = pusher + direction * MAX_STEP
        return np.clip((target - pusher) / MAX_STEP, -1, 1).astype(np.float32)
