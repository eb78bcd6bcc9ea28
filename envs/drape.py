"""Drape-v0: drape a cloth held by one edge over a box.

Version history:
    v0: MuJoCo flexcomp cloth (7 x 8 vertices, 0.24 m wide, 0.28 m long) pinned along its top
        edge to a gripper on x/z slide joints under position control, moving up to 0.02 m per
        step per axis in the vertical x-z plane; box (0.08 x 0.2 x 0.1 m) at a random x.
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np

from envs.base import MujocoTaskEnv

MAX_STEP = 0.02  # metres of gripper travel per env step at |action| = 1
SUBSTEPS = 10  # physics steps of 5 ms per env step: 20 Hz control
BOX_X_RANGE = (-0.05, 0.05)  # metres: where the box centre may be
HANG_DEPTH = 0.03  # metres below the box top that counts as hanging
ROW_SHARE = 0.7  # share of a row's vertices that must meet a row condition
SETTLE_STEPS = 15  # env steps a scripted drape waits for the cloth to come to rest


class DrapeEnv(MujocoTaskEnv):
    """A gripper holds a cloth by its top edge and drapes it over a box.

    * Action: ``(2,)`` in ``[-1, 1]``: displacement of the gripper's position target along x
      and z, ``MAX_STEP`` metres per unit; the targets stay inside the actuators' ranges.
    * State: ``(7,)`` float32, metres: gripper x, z; box x; free edge's mean x, z; the
      cloth's mean x, z.
    * Start: box centre ``x ~ U[-0.05, 0.05]``; gripper at ``x ~ U[-0.25, -0.15]``,
      ``z ~ U[0.28, 0.32]``, the cloth hanging straight down beside the box (its free edge
      below the box top, so that it catches on the box when moved across).
    * Success: the cloth lies over the box and hangs down both sides. Vertices come in rows
      across the cloth's width (7 vertices each, parallel to the box's long axis); success
      when at least one row lies on the top (70% of its vertices within the top's x extent
      and no lower than 1 cm under it), and on each side of the box at least one row hangs
      (70% of its vertices beyond that side and at least ``HANG_DEPTH`` below the top).
    * Reward: ground-truth success, 0 or 1; ``info`` holds the row counts.
    """

    scene = "drape.xml"
    state_size = 7
    proprio = (0, 1)  # the gripper's x, z; box and cloth are object state
    state_bound = 1.0  # metres: the scene is half a metre across
    action_size = 2

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._box_body = self.model.body("box").id
        self._box_half = self.model.geom("box").size.copy()  # half extents x, y, z
        self._initial_box_pos = self.model.body_pos[self._box_body].copy()
        self._gripper_qpos = [self.model.joint(n).qposadr[0] for n in ("gripper_x", "gripper_z")]
        self._gripper_origin = self.model.body("gripper").pos[[0, 2]].copy()
        self._ctrl_low = self.model.actuator_ctrlrange[:, 0].copy()
        self._ctrl_high = self.model.actuator_ctrlrange[:, 1].copy()
        cloth = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_FLEX, "cloth")
        self._vert_start = int(self.model.flex_vertadr[cloth])
        n_verts = int(self.model.flex_vertnum[cloth])
        edge_start, n_edges = self.model.flex_edgeadr[cloth], self.model.flex_edgenum[cloth]
        self._edges = self.model.flex_edge[edge_start : edge_start + n_edges]  # (E, 2) vertices
        # The cloth hangs flat in the reference configuration: rows are the vertices at one
        # height, rest lengths are the edges' lengths there.
        mujoco.mj_forward(self.model, self.data)
        rest = self.data.flexvert_xpos[self._vert_start : self._vert_start + n_verts]
        order = np.argsort(rest[:, 2], kind="stable")
        n_rows = len(np.unique(np.round(rest[:, 2], 4)))
        self._rows = order.reshape(n_rows, -1)  # vertex indices; row 0 is the free edge
        self._rest_lengths = self._edge_lengths(rest)

    def _edge_lengths(self, vertices: np.ndarray) -> np.ndarray:
        return np.linalg.norm(vertices[self._edges[:, 0]] - vertices[self._edges[:, 1]], axis=1)

    # -- geometry ---------------------------------------------------------------------

    @property
    def gripper_xz(self) -> np.ndarray:
        """Gripper centre x, z in metres, ``(2,)``."""
        return self._gripper_origin + self.data.qpos[self._gripper_qpos]

    @property
    def box_x(self) -> float:
        """Box centre x, metres."""
        return float(self.model.body_pos[self._box_body, 0])

    @property
    def box_top(self) -> float:
        """Height of the box's top face, metres."""
        return float(self.model.body_pos[self._box_body, 2] + self._box_half[2])

    def cloth_vertices(self) -> np.ndarray:
        """Cloth vertex positions, metres, ``(n_vertices, 3)``."""
        n = self._rows.size
        return self.data.flexvert_xpos[self._vert_start : self._vert_start + n].copy()

    def cloth_health(self) -> dict[str, float]:
        """What a simulation blow-up would show.

        Returns:
            ``max_stretch``: the largest edge length over its rest length; ``box_penetration``:
            how deep the deepest vertex centre lies inside the box, metres (0 when none is).
        """
        vertices = self.cloth_vertices()
        inside = np.min(
            [
                self._box_half[0] - np.abs(vertices[:, 0] - self.box_x),
                self._box_half[1] - np.abs(vertices[:, 1]),
                self.box_top - vertices[:, 2],
            ],
            axis=0,
        )
        return {
            "max_stretch": float(np.max(self._edge_lengths(vertices) / self._rest_lengths)),
            "box_penetration": float(max(0.0, inside.max())),
        }

    def scene_state(self) -> np.ndarray:
        """The base's scene state, then the box's x (the box moves in the model, not in qpos)."""
        return np.append(super().scene_state(), self.box_x)

    def set_scene_state(self, state: np.ndarray) -> None:
        """Pose the cloth, gripper and box as :meth:`scene_state` saw them."""
        self.model.body_pos[self._box_body, 0] = state[-1]
        super().set_scene_state(state[:-1])

    # -- task interface ---------------------------------------------------------------

    def _place(self, box_x: float, gripper_xz: np.ndarray) -> None:
        self.model.body_pos[self._box_body] = self._initial_box_pos + [box_x, 0.0, 0.0]
        offset = np.clip(gripper_xz - self._gripper_origin, self._ctrl_low, self._ctrl_high)
        self.data.qpos[self._gripper_qpos] = offset
        self.data.ctrl[:] = offset
        mujoco.mj_forward(self.model, self.data)

    def _place_randomly(self, rng: np.random.Generator) -> None:
        """A random box and gripper start (the class docstring's ranges)."""
        box_x = rng.uniform(*BOX_X_RANGE)
        self._place(box_x, np.array([rng.uniform(-0.25, -0.15), rng.uniform(0.28, 0.32)]))

    def _reset_task(self) -> None:
        self._place_randomly(self.np_random)

    def _apply_action(self, action: np.ndarray) -> None:
        self.data.ctrl[:] = np.clip(
            self.data.ctrl + MAX_STEP * action, self._ctrl_low, self._ctrl_high
        )
        for _ in range(SUBSTEPS):
            mujoco.mj_step(self.model, self.data)

    def _state(self) -> np.ndarray:
        vertices = self.cloth_vertices()
        free_edge = vertices[self._rows[0]].mean(0)
        centre = vertices.mean(0)
        return np.array(
            [*self.gripper_xz, self.box_x, free_edge[0], free_edge[2], centre[0], centre[2]],
            dtype=np.float32,
        )

    def _task_info(self) -> dict[str, Any]:
        rows = self.cloth_vertices()[self._rows]  # (n_rows, row_length, 3)
        x, z = rows[..., 0] - self.box_x, rows[..., 2]
        half, top = self._box_half[0], self.box_top
        on_top = ((np.abs(x) < half) & (z > top - 0.01)).mean(1) >= ROW_SHARE
        hanging = z < top - HANG_DEPTH
        near = ((x < -half) & hanging).mean(1) >= ROW_SHARE
        far = ((x > half) & hanging).mean(1) >= ROW_SHARE
        return {
            "is_success": bool(on_top.any() and near.any() and far.any()),
            "rows_on_top": int(on_top.sum()),
            "rows_near_side": int(near.sum()),
            "rows_far_side": int(far.sum()),
        }

    def set_random_success_state(self, rng: np.random.Generator) -> Any:
        """A random box, start and resting place of the gripper, draped by the scripted controller.

        A drape that fails (rare) is retried from a new start.

        Raises:
            RuntimeError: twenty scripted drapes in a row failed (a broken scene).
        """
        for _ in range(20):
            mujoco.mj_resetData(self.model, self.data)
            self._place_randomly(rng)
            rest = np.array([self.box_x + rng.uniform(0.07, 0.13), rng.uniform(0.05, 0.065)])
            for _ in range(60):
                self._apply_action(self.scripted_action(rest))
            for _ in range(SETTLE_STEPS):
                self._apply_action(np.zeros(2))
            if self._task_info()["is_success"]:
                return self._observation()
        raise RuntimeError("the scripted drape failed twenty times: check the scene")

    def scripted_action(self, rest: np.ndarray | None = None) -> np.ndarray:
        """A hand-written controller: carry the cloth across, then lower it beyond the box.

        At its start height the cloth's free edge catches on the box and is pulled over the
        top while the gripper passes above; past the far side the gripper goes down.

        Args:
            rest: where the gripper ends (x, z in metres); default 9 cm past the box centre,
                5.5 cm above the table.
        """
        box_x = self.box_x
        if rest is None:
            rest = np.array([box_x + 0.09, 0.055])
        gripper = self.data.ctrl + self._gripper_origin
        if gripper[0] < box_x + self._box_half[0] + 0.02:
            target = np.array([rest[0], gripper[1]])
        else:
            target = rest
        return np.clip((target - gripper) / MAX_STEP, -1, 1).astype(np.float32)
