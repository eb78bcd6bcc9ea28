"""The config of a training run: its fields (``--help``), choices, ranges and per-task settings.

One dataclass per entry point (CleanRL's ``Args``); :func:`validate` checks it before any work,
whichever entry point built it (the command line, a resume, a script, a benchmark).
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reward_learning.config import check_ranges
from reward_learning.errors import UserInputError
from reward_learning.learner import ALGORITHMS, CRITICS, ENCODERS
from reward_learning.questions import ORACLES, QUERY_STRATEGIES
from reward_learning.reward import POLICY_NEGATIVES, RETRAIN_MODES, REWARD_FORMS, REWARD_MODES
from reward_learning.tasks import POLICY_INPUTS, TASKS


def train_choices() -> dict[str, tuple[str, ...]]:
    """The allowed values of each ``TrainConfig`` field that takes a name.

    Components come from their registries (each subpackage's menu), so a reward mode
    registered from outside the package is a choice like the bundled ones.
    """
    return {
        "reward": REWARD_MODES.names(),
        "oracle": ORACLES.names(),
        "human_wait": ("queue", "block"),
        "query_strategy": QUERY_STRATEGIES.names(),
        "policy_input": POLICY_INPUTS.names(),
        "policy_negatives": POLICY_NEGATIVES,
        "classifier_retrain": RETRAIN_MODES,
        "reward_form": REWARD_FORMS,
        "algo": ALGORITHMS.names(),
        "critic": CRITICS,
        "encoder": ENCODERS.names(),
    }


@dataclass
class TrainConfig:
    """One training run (the ``reward-learning train`` command)."""

    task: str = "push"
    """The task: push or drape (drape has its own defaults for steps, learning_rate and
    gradient_steps: TASK_SETTINGS), or any Gymnasium env id (``--env``, e.g. Pusher-v5 or
    my_module:MyEnv-v0): the policy reads its observation, the reward its rgb_array render."""
    env_kwargs: str = ""
    """Keyword arguments of a Gymnasium env (--env), as a JSON object."""
    reward: str = "vice-raq"
    """The reward mode, a name in reward.modes.REWARD_MODES: vice-raq (classifier + queries), vice (no
    queries), classifier (trained once, frozen), sparse (ground-truth success, the upper
    reference), pixel-l2 (distance to the mean goal image), or one registered by you."""
    oracle: str = "simulated"
    """Who answers success queries: simulated (reads the simulator's ground truth), human (an
    OpenCV window; needs a display) or later (frames are saved for `reward-learning label`)."""
    human_wait: str = "queue"
    """With --oracle human: queue (training goes on while questions wait in a window polled
    between env steps; unanswered frames stay for `reward-learning label`) or block (training
    stops until each round is answered, the paper's protocol)."""
    oracle_error: float = 0.0
    """Probability that the simulated oracle answers wrongly."""
    oracle_delay: int = 0
    """With --oracle simulated: answer each query round this many env steps after it was asked,
    as a person working through the queue while training goes on (0: at once)."""
    steps: int = 10_000
    """Env steps of training (drape: 50,000)."""
    goals: int = 10
    """Goal images rendered from random success states (when --goal-dir is unset)."""
    goal_dir: str | None = None
    """Folder of PNG/JPEG goal images to use instead of rendered ones."""
    queries_every: int = 1000
    """Env steps between query rounds."""
    queries_per_round: int = 2
    """Frames asked per round."""
    label_budget: int = 40
    """Total success labels the run may ask for."""
    query_strategy: str = "most-likely-success"
    """Which frames to ask about, a name in questions.queries.QUERY_STRATEGIES: most-likely-success (the
    paper's), least-confident, entropy, bald, or one registered by you."""
    classifier_every: int = 1000
    """Env steps between classifier updates (VICE)."""
    classifier_steps: int = 20
    """Adam steps per classifier update (warm retraining; the first update takes 200)."""
    success_check_folds: int = 3
    """After the first classifier update, classifiers trained on all but one of this many folds
    of the goal images score the held-out ones against the policy's frames, and the run says in
    one line whether success shows in the frames (and what to change where it does not); 0: no
    check."""
    classifier_retrain: str = "warm"
    """warm (each update continues training) or scratch (each update retrains from the seeded
    initial weights for 200 steps, so the classifier does not sharpen update by update)."""
    policy_negatives: str = "replay"
    """vice-raq's failures besides the oracle's: replay (VICE's: the whole replay buffer, the
    latest policy included) or exploration (frames of the random-action phase only; the
    classifier then changes only when answers arrive). The vice mode always uses replay, as
    published."""
    oracle_negative_share: float = 0.5
    """Share of the classifier's negatives drawn from frames the oracle called failure (at
    most; the rest are policy frames). 0 draws them as often as any single policy frame."""
    reward_form: str = "log-p"
    """The learned reward: log-p (log p(success), floored at -10) or logit (VICE-RAQ's: the
    classifier's logit, clipped to [-10, 10]; it keeps rising inside the goal region, where log p
    is flat)."""
    reward_scale: float = 1.0
    """Multiplies the learned reward."""
    classifier_mixup: float = 1.0
    """Mixup of the classifier's training images and labels, Beta(alpha, alpha) (VICE-RAQ's:
    1); 0 turns it off."""
    classifier_shift: int = 4
    """Random-shift augmentation of the classifier's training images, in pixels; 0 turns it
    off."""
    label_smoothing: float = 0.0
    """Classifier targets become eps/2 and 1 - eps/2 (SERL): bounds how far a confident
    classifier pushes the reward of policy frames down."""
    gradient_steps: int = 2
    """SAC gradient steps per env step (pixel inputs: 1)."""
    batch_size: int = 128
    """Transitions per SAC gradient step (pixel inputs: 64)."""
    algo: str = "sac"
    """The policy's learner: sac (Stable-Baselines3) or tqc (sb3-contrib's truncated quantile
    critics; same API, five distributional critics)."""
    critic: str = "droq"
    """SAC's or TQC's critics: mlp (SB3's), layernorm (LayerNorm after each hidden layer) or
    droq (dropout 0.01, then LayerNorm: DroQ, Hiraoka et al. 2022)."""
    ent_coef: str = "auto"
    """Entropy coefficient: auto (learned, starting at 1.0), auto_X (learned, starting at X) or
    a fixed number (SB3's convention)."""
    gamma: float = 0.99
    """Discount factor."""
    n_steps: int = 1
    """n-step returns for the critics (1: SAC's one-step targets); state policies only."""
    normalize_obs: bool = True
    """Normalize the policy's state vector (or a pixel policy's proprioception) by its running
    mean and variance (SB3's VecNormalize, RL Zoo's `normalize`); the statistics go with every
    checkpoint."""
    learning_rate: float = 1e-3
    """Adam learning rate of SAC's actor, critics and entropy coefficient."""
    image_size: int = 48
    """Side of the images the reward sees, in pixels (VICE-RAQ used 48)."""
    policy_input: str = "state"
    """What the policy reads (tasks.views.POLICY_INPUTS): state (the simulator's state vector, the
    objects' positions included: privileged, the protocol of simulation reward-learning papers),
    pixels (the last 3 camera frames at --image-size, nothing else) or pixels+proprio (the frames
    and the robot's own effector state: what a camera-only robot has)."""
    encoder: str = "lean"
    """A pixel policy's encoder (learner.pixels.ENCODERS): lean (three stride-2 convolutions) or drq
    (DrQ's: one stride-2, three stride-1; slower on a CPU)."""
    proprio: str = ""
    """With --env and --policy-input pixels+proprio: which entries of the env's flattened
    observation are the robot's own state (e.g. 0-3,8); the bundled tasks declare theirs."""
    learning_starts: int = 1000
    """Random-action steps before SAC and the classifier start."""
    eval_every: int = 2500
    """Env steps between evaluations."""
    eval_episodes: int = 50
    """Episodes per evaluation (ground-truth success at the episode's end); with 20 a 65% policy
    reads anywhere from 45% to 85% (a binomial 95% interval), with 50 from 52% to 78%."""
    seed: int = 0
    """Seed of env, SAC, classifier and goals."""
    device: str = "auto"
    """auto, cpu or cuda."""
    threads: int = 1
    """Torch threads of this run (torch's default of one per core collapses runs that share a
    machine: give each run its share of the cores)."""
    progress: bool = True
    """Show SB3's progress bar."""
    video: bool = True
    """Record a video of the final policy (policy.mp4)."""
    out: str = "runs/push"
    """Run directory (the command line's default: runs/TASK); a new run refuses one that holds
    a run (--resume or --overwrite)."""


TASK_SETTINGS: dict[str, dict[str, Any]] = {
    "push": {},
    "drape": {
        "steps": 50_000, "critic": "mlp", "goals": 20, "policy_negatives": "exploration",
        "batch_size": 256,
    },
}  # fmt: skip
"""Each task's departures from ``TrainConfig``'s defaults, as RL Zoo keeps hyperparameters per
env; what each was measured at is in benchmarks/README.md."""


INPUT_SETTINGS: dict[str, dict[str, Any]] = {
    "pixels": {"batch_size": 64, "gradient_steps": 1},
    "pixels+proprio": {"batch_size": 64, "gradient_steps": 1},
}
"""Each policy input's departures from ``TrainConfig``'s defaults (pixel policies: one cheaper
gradient step per env step; benchmarks/README.md, Pixel policies)."""


RESUMABLE: tuple[str, ...] = (
    "steps", "label_budget", "oracle", "human_wait", "oracle_error", "oracle_delay", "eval_every",
    "eval_episodes", "threads", "device", "progress", "video",
)  # fmt: skip
"""The settings a resumed run may change; the rest define the run."""

RANGES: dict[str, tuple[float, float]] = {
    "steps": (1, float("inf")),
    "goals": (1, 10_000),
    "queries_every": (1, float("inf")),
    "queries_per_round": (1, 1_000),
    "label_budget": (0, float("inf")),
    "classifier_every": (1, float("inf")),
    "classifier_steps": (1, float("inf")),
    "success_check_folds": (0, 100),
    "oracle_error": (0.0, 1.0),
    "oracle_delay": (0, float("inf")),
    "oracle_negative_share": (0.0, 0.99),
    "reward_scale": (1e-6, 1e6),
    "label_smoothing": (0.0, 0.99),
    "classifier_mixup": (0.0, 100.0),
    "classifier_shift": (0, 64),
    "gradient_steps": (1, 1_000),
    "batch_size": (1, 1_000_000),
    "gamma": (0.0, 1.0),
    "n_steps": (1, 100),
    "learning_rate": (1e-8, 1.0),
    "image_size": (16, 512),
    "learning_starts": (0, float("inf")),
    "eval_every": (1, float("inf")),
    "eval_episodes": (1, 10_000),
    "threads": (1, 1_024),
    "seed": (0, 2**32 - 1),
}
"""Allowed ranges (inclusive) of the numeric ``TrainConfig`` fields."""


def validate(config: TrainConfig) -> None:
    """Check every choice and range of a config before any work starts.

    Raises:
        UserInputError: one line naming the field, the value, what is allowed.
    """
    # Imported here, not above: the command line reads this module for --help, which should
    # load neither torch (devices) nor MuJoCo (the task checks).
    from reward_learning.devices import resolve_device
    from reward_learning.questions.oracles import require_display
    from reward_learning.reward.goals import load_goal_images
    from reward_learning.tasks.gym_envs import parse_env_kwargs
    from reward_learning.tasks.make import check_mujoco
    from reward_learning.tasks.views import parse_indices

    for name, allowed in train_choices().items():
        value = getattr(config, name)
        if value not in allowed:
            raise UserInputError(
                f"--{name.replace('_', '-')} {value!r}: expected one of {', '.join(allowed)}"
            )
    check_ranges(config, RANGES)
    entropy = config.ent_coef.removeprefix("auto").removeprefix("_") or "1"
    try:
        valid_entropy = float(entropy) > 0
    except ValueError:
        valid_entropy = False
    if not valid_entropy:
        raise UserInputError(
            f"--ent-coef {config.ent_coef!r}: expected auto, auto_X or a number X, with X > 0"
        )
    if config.n_steps > 1 and config.policy_input != "state":
        raise UserInputError(
            f"--n-steps {config.n_steps}: n-step returns need --policy-input state "
            "(SB3 has no n-step buffer for dict observations)"
        )
    if config.proprio:
        parse_indices(config.proprio)
        if config.task in TASKS:
            raise UserInputError(
                f"--proprio {config.proprio}: the bundled task {config.task} declares its own"
            )
    if config.oracle_delay and config.oracle != "simulated":
        raise UserInputError(
            f"--oracle-delay {config.oracle_delay} simulates a person who answers late: it needs "
            f"--oracle simulated (not {config.oracle})"
        )
    resolve_device(config.device)
    parse_env_kwargs(config.env_kwargs)
    if config.task in TASKS and config.env_kwargs:
        raise UserInputError(
            f"--env-kwargs {config.env_kwargs!r}: the bundled task {config.task} takes none "
            "(they are for a Gymnasium env named with --env)"
        )
    if config.task in TASKS:
        check_mujoco(config.task)
    else:
        check_gym_task(config)
    if config.goal_dir is not None:
        load_goal_images(config.goal_dir, config.image_size)  # every image checked before work
    if config.oracle == "human":
        require_display("use --oracle simulated, or --oracle later and answer afterwards")


def check_gym_task(config: TrainConfig) -> None:
    """What a Gymnasium env (``--env``) lacks for this run, in one line.

    Raises:
        UserInputError: the env cannot be made, reports no ``info["is_success"]`` where the
            simulated oracle or the sparse reward would read it, or cannot pose a success state
            where no ``--goal-dir`` is given.
    """
    from reward_learning.tasks.make import task_traits  # see validate
    from reward_learning.tasks.views import proprio_indices

    traits = task_traits(config.task, config.env_kwargs)
    if not traits.has_success:
        if config.reward == "vice-raq" and config.oracle == "simulated":
            raise UserInputError(
                f"--env {config.task} reports no info['is_success'], which the simulated oracle "
                "reads: answer the queries with --oracle human or --oracle later"
            )
        if config.reward == "sparse":
            raise UserInputError(
                f"--env {config.task} reports no info['is_success']: the sparse reward has "
                "nothing to read"
            )
    if POLICY_INPUTS.build(config.policy_input).proprio:
        proprio_indices(config.task, config.proprio, traits.proprio, traits.state_size)
    if config.goal_dir is None and not traits.can_pose_success:
        raise UserInputError(
            f"--env {config.task} cannot put itself in a success state: give pictures of "
            "success with --goal-dir"
        )


def task_config(task: str, **values: Any) -> TrainConfig:
    """The ``TrainConfig`` of ``task``: ``TASK_SETTINGS``, ``INPUT_SETTINGS``, then ``values``."""
    by_input = INPUT_SETTINGS.get(values.get("policy_input", "state"), {})
    return TrainConfig(task=task, **{**TASK_SETTINGS.get(task, {}), **by_input, **values})


def confirm_task(config: TrainConfig, env: str | None) -> None:
    """Refuse a received run whose ``task`` would import code the user did not name.

    A ``module:Id`` task imports ``module``: on ``--resume`` and ``evaluate`` the user names it
    again with ``--env``, and a module found inside the run directory is never imported.

    Raises:
        UserInputError: the task imports a module and ``env`` differs, or the module lies in
            the run directory.
    """
    module = config.task.rpartition(":")[0]
    if not module:
        return
    if env != config.task:
        raise UserInputError(
            f"{config.out} was trained on --env {config.task}, which imports the module "
            f"{module}: a run directory does not choose code to run; if you trust {module}, "
            f"name it yourself with --env {config.task}"
        )
    spec = importlib.util.find_spec(module.split(".")[0])
    origin = Path(spec.origin).resolve() if spec is not None and spec.origin else None
    if origin is not None and Path(config.out).resolve() in origin.parents:
        raise UserInputError(
            f"--env {config.task}: {module} would be imported from the run directory itself "
            f"({origin}); install or move the module elsewhere"
        )


def load_run_config(run_dir: str | Path) -> TrainConfig:
    """The ``config.json`` of a run directory, its ``out`` set to where the directory is now."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise UserInputError(f"{run_dir} is not a run directory (no config.json)")
    try:
        values = json.loads(path.read_text())
        config = TrainConfig(**values)
    except (json.JSONDecodeError, TypeError) as error:
        raise UserInputError(
            f"{path} is not a run's config ({error}): the run is damaged"
        ) from error
    config.out = str(run_dir)
    return config
