"""The ``reward-learning`` command."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from reward_learning.config import add_arguments, from_namespace
from reward_learning.errors import DISK_FULL, UserInputError
from reward_learning.questions.labels import LabelStore


def _mnist(args: argparse.Namespace) -> None:
    from reward_learning.mnist import experiment
    from reward_learning.mnist.settings import MnistConfig

    config = from_namespace(MnistConfig, args)
    oracle = None
    if config.oracle == "human":
        from reward_learning.questions.oracles import digit_window_oracle

        oracle = digit_window_oracle()
    points = experiment.run_experiment(config, oracle, overwrite=args.overwrite)
    final = {p.strategy: p for p in points if p.seed == 0}
    for strategy, point in final.items():
        print(
            f"{strategy:>16}: {point.accuracy:.3f} test accuracy with {point.labels} labels (seed 0)"
        )
    print(f"curves: {config.out}/curves.png, {config.out}/curves.csv")


def _collect_goals(args: argparse.Namespace) -> None:
    from reward_learning.reward.goals import render_goals, save_goals

    if args.n < 1:
        raise UserInputError(f"-n {args.n}: expected at least one goal image")
    if not 16 <= args.image_size <= 512:
        raise UserInputError(f"--image-size {args.image_size}: expected a value in [16, 512]")
    if (args.task is None) == (args.env is None):
        raise UserInputError("name a task (push, drape) or an env (--env ID), one of them")
    task = args.task or args.env
    if args.task is None:
        from reward_learning.tasks.make import task_traits

        if not task_traits(task, args.env_kwargs).can_pose_success:
            raise UserInputError(
                f"--env {task} cannot put itself in a success state: photograph or export "
                "goal images and give them to train with --goal-dir"
            )
    images = render_goals(task, args.n, args.image_size, args.seed, env_kwargs=args.env_kwargs)
    out = save_goals(images, args.out or f"goals/{task.replace('/', '_').replace(':', '_')}")
    print(f"{len(images)} goal images of {task} in {out}/ (PNG files and goals.npz)")


def _train(args: argparse.Namespace) -> None:
    from reward_learning.run import settings, training

    fields = vars(settings.TrainConfig())
    given = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    if args.resume is not None and args.overwrite:
        raise UserInputError(
            f"--resume {args.resume} continues a run and --overwrite starts one over: choose one"
        )
    if args.task is not None and args.env is not None:
        raise UserInputError(f"name a task ({args.task}) or an env (--env {args.env}), not both")
    if args.env is not None:
        given["task"] = args.env
        importable_from_working_directory()
    if args.resume is not None:
        config = settings.load_run_config(args.resume)
        settings.confirm_task(config, args.env)
        for name, value in given.items():
            if name not in settings.RESUMABLE and value != getattr(config, name):
                raise UserInputError(
                    f"--{name.replace('_', '-')} cannot change when a run resumes (it was "
                    f"{getattr(config, name)!r}); start a new run with --out to change it"
                )
            setattr(config, name, value)
        run = training.TrainingRun(config, resume=True)
    else:
        if "task" not in given:
            raise UserInputError(
                "name a task (`reward-learning train push`) or an env (`--env Pusher-v5`), "
                "or --resume RUN_DIR"
            )
        given.setdefault("out", f"runs/{given['task'].replace(':', '_')}")
        run = training.TrainingRun(settings.task_config(**given), overwrite=args.overwrite)
    try:
        summary = run.train()
    except KeyboardInterrupt:
        print(
            f"interrupted at {run.model.num_timesteps} env steps; checkpoint and labels saved: "
            f"continue with `reward-learning train --resume {run.out}`",
            file=sys.stderr,
        )
        raise
    out = run.out
    rate = "not evaluated" if summary["success_rate"] is None else f"{summary['success_rate']:.0%}"
    if summary["success_source"] == "classifier":
        rate += " (the classifier's verdict: the env reports no success)"
    asked = ""
    if summary["labels_pending"] or summary["labels_skipped"] or summary["labels_corrected"]:
        asked = (
            f" ({summary['labels_pending']} pending, {summary['labels_skipped']} skipped, "
            f"{summary['labels_corrected']} corrected; {summary['person_s']:.0f} s answering)"
        )
    print(
        f"{summary['task']} ({summary['reward']}): success rate {rate} after "
        f"{summary['steps']} env steps, {summary['labels']} oracle labels{asked}, "
        f"{summary['goal_images']} goal images, {summary['wall_s'] / 60:.1f} min "
        f"({summary['reward_share']:.0%} in the reward machinery)"
    )
    written = [
        f"{name}: {out}/{file}"
        for name, file in (
            ("plots", "success.png"),
            ("queries", "queries.png"),
            ("goals", "goals.png"),
            ("metrics", "metrics.csv"),
            ("video", "policy.mp4"),
        )
        if (out / file).exists()
    ]
    print("   ".join([*written, f"TensorBoard: {out}/logs", f"labels: {out}/labels.sqlite"]))


def _sweep(args: argparse.Namespace) -> None:
    from reward_learning.run import directory, sweep

    config = from_namespace(sweep.SweepConfig, args)
    trials = sweep.plan(config)
    try:
        import ray  # noqa: F401
    except ImportError as error:
        raise UserInputError(
            "sweep runs on Ray Tune, which is not installed: pip install 'reward-learning[sweep]'"
        ) from error
    out = Path(config.out)
    directory.check_new_dir(out, directory.SWEEP_ENTRIES, overwrite=True, what="sweep")
    if config.address:
        sweep.check_address(config.address)
    if args.overwrite and out.exists():
        directory.clear(out, directory.SWEEP_ENTRIES)
    directory.create(out)
    print(
        f"{len(trials)} trials on Ray Tune; run directories in {out}/runs (a sweep started "
        "again continues them)"
    )
    outcomes = sweep.run_sweep(config, trials)
    print("\n".join(sweep.write_results(outcomes, out)))
    print(f"table: {out}/sweep.md, every evaluation: {out}/sweep.csv, curves: {out}/curves.png")
    failed = sum(o.error is not None for o in outcomes)
    if failed:
        raise UserInputError(f"{failed} of {len(trials)} trials failed (listed in {out}/sweep.md)")


def importable_from_working_directory() -> None:
    """Let ``--env module:Id`` import a module in the working directory, as ``python -m`` does."""
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def _evaluate(args: argparse.Namespace) -> None:
    from reward_learning.run.evaluation import evaluate
    from reward_learning.run.settings import confirm_task, load_run_config

    if args.episodes < 1:
        raise UserInputError(f"--episodes {args.episodes}: expected a value >= 1")
    if args.env is not None:
        importable_from_working_directory()
    confirm_task(load_run_config(args.run_dir), args.env)
    result = evaluate(args.run_dir, args.episodes, video=args.video)
    verdict = " (the classifier's verdict)" if result["success_source"] == "classifier" else ""
    print(
        f"{result['run']}: success rate {result['success_rate']:.0%}{verdict} over "
        f"{args.episodes} episodes"
    )
    if "video" in result:
        print(f"video: {result['video']}")


def _store(run_dir: str) -> LabelStore:
    from reward_learning.questions.labels import LabelStore

    path = Path(run_dir)
    if not path.is_dir():
        raise UserInputError(f"run directory {run_dir} does not exist")
    database = path / "labels.sqlite"
    if not database.exists():
        raise UserInputError(f"{run_dir} has no label store (labels.sqlite)")
    return LabelStore(database, run=path.name)


def answer_kind(run: Path, store: LabelStore) -> tuple[tuple[int, ...] | None, int]:
    """``(frame shape, classes)`` of a run's answers: ``((S, S, 3), 2)`` for a training run.

    Any other directory is an MNIST experiment: digits (10 classes), of the shape of the answers
    already stored (``None`` before the first).
    """
    from reward_learning.run.settings import load_run_config

    try:
        size = load_run_config(run).image_size
    except UserInputError:
        stored = store.answers(include_skipped=True)
        return (stored[0].image.shape if stored else None), 10
    return (size, size, 3), 2


def _labels(args: argparse.Namespace) -> None:
    from reward_learning.questions.labels import export_labels, import_labels

    store = _store(args.run_dir)
    try:
        if args.action == "list":
            rows = store.answers(include_skipped=True)
            for a in rows:
                waiting = a.label is None and a.source == "pending"
                label = "pending" if waiting else "skip" if a.label is None else a.label
                corrects = "" if a.supersedes is None else f"  corrects {a.supersedes}"
                print(
                    f"{a.id:6d}  {a.run:>12}  {a.task:>6}  {a.source:>10}  label={label}  "
                    f"key={a.key}{corrects}"
                )
            counts = store.counts()
            print(
                f"{counts.answered} answers, {counts.skipped} skipped, {counts.pending} frames waiting "
                f"for an answer in {store.path} ({counts.corrected} corrected)"
            )
        elif args.action == "review":
            from reward_learning.questions.review import review

            flips = review(store)
            print(f"{flips} answers corrected in {store.path}; resume the run to train on them")
        elif args.action == "export":
            folder = args.folder or f"{args.run_dir}/labels_export"
            print(
                f"{export_labels(store, folder)} answers written to {folder}/ (PNGs and labels.csv)"
            )
        else:
            if args.folder is None:
                raise UserInputError(
                    "labels import needs --folder FOLDER (one written by `labels export`)"
                )
            shape, classes = answer_kind(Path(args.run_dir), store)
            added = import_labels(store, args.folder, shape, classes)
            print(
                f"{added} answers imported into {store.path}"
                + (
                    ""
                    if shape is None
                    else f" (as {'x'.join(map(str, shape))} frames; gray ones made RGB)"
                )
            )
    finally:
        store.close()  # SQLite removes its -wal and -shm files with the last connection


def _label(args: argparse.Namespace) -> None:
    import numpy as np

    from reward_learning.questions.oracles import Query, success_window_oracle
    from reward_learning.run.settings import confirm_task, load_run_config
    from reward_learning.tasks.scenes import SceneView

    store = _store(args.run_dir)
    pending = store.pending()
    if not pending:
        print(f"no frames waiting for an answer in {args.run_dir}")
        return
    config = load_run_config(args.run_dir)
    if args.env is not None:
        importable_from_working_directory()
    confirm_task(config, args.env)
    oracle = success_window_oracle(args.grid, SceneView(config.task, config.env_kwargs))
    query = Query(
        np.stack([p.image for p in pending]), np.array([p.key or 0 for p in pending]),
        np.array([p.probability or 0.0 for p in pending]), np.array([p.score or 0.0 for p in pending]),
        remaining=len(pending), scenes=[p.scene for p in pending],
    )  # fmt: skip
    answered: dict[int, int] = {}  # position in the queue -> the answer's row
    for answer in oracle.ask(query):
        frame = pending[answer.position]
        if not answer.undo:
            answered[answer.position] = store.answer_pending(frame, answer.label, oracle.source)
        elif answer.position in answered:
            store.take_back_pending(answered.pop(answer.position), frame)
    print(f"{len(answered)} answers stored in {store.path}; resume the run to use them")


def _mnist_arguments(mnist: argparse.ArgumentParser) -> None:
    from reward_learning.mnist.settings import MNIST_CHOICES, MnistConfig

    mnist.add_argument(
        "--overwrite", action="store_true", help="start over in an --out that holds an experiment"
    )
    add_arguments(mnist, MnistConfig, choices=MNIST_CHOICES)
    mnist.set_defaults(run=_mnist)


def _collect_goals_arguments(goals: argparse.ArgumentParser) -> None:
    from reward_learning.tasks import TASKS

    goals.add_argument("task", nargs="?", choices=TASKS, help="the task (or --env)")
    goals.add_argument(
        "--env", metavar="ID",
        help="a Gymnasium env that can pose success (Meta-World/MT1 with the metaworld extra)",
    )  # fmt: skip
    goals.add_argument(
        "--env-kwargs", default="", metavar="JSON",
        help='the env\'s keyword arguments, e.g. \'{"env_name": "drawer-close-v3"}\'',
    )  # fmt: skip
    goals.add_argument("-n", type=int, default=80, help="how many images (default: 80)")
    goals.add_argument("--image-size", type=int, default=64, help="pixels (default: 64)")
    goals.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    goals.add_argument("--out", default=None, help="output folder (default: goals/TASK)")
    goals.set_defaults(run=_collect_goals)


def _train_arguments(train: argparse.ArgumentParser) -> None:
    from reward_learning.run.settings import TrainConfig, train_choices
    from reward_learning.tasks import TASKS

    train.add_argument("task", nargs="?", choices=TASKS, help="the task (omit with --resume)")
    train.add_argument(
        "--env", metavar="ID",
        help="any registered Gymnasium env instead of a task (Pusher-v5, my_module:MyEnv-v0)",
    )  # fmt: skip
    train.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its directory")
    train.add_argument(
        "--overwrite", action="store_true", help="start over in an --out that holds a run"
    )
    add_arguments(
        train,
        TrainConfig,
        choices=train_choices(),
        skip=("task",),
        unset_is_none=True,  # so that --resume keeps the run's own settings
    )
    train.set_defaults(run=_train)


def _sweep_arguments(sweep: argparse.ArgumentParser) -> None:
    from reward_learning.run.settings import train_choices
    from reward_learning.run.sweep import SweepConfig

    sweep.add_argument("task", help="the task (push, drape) or a Gymnasium env id")
    sweep.add_argument(
        "--overwrite", action="store_true", help="start over in an --out that holds a sweep"
    )
    add_arguments(sweep, SweepConfig, choices={"reward": train_choices()["reward"]}, skip=("task",))
    sweep.set_defaults(run=_sweep)


def _evaluate_arguments(evaluate: argparse.ArgumentParser) -> None:
    evaluate.add_argument("run_dir", help="a run directory written by `train`")
    evaluate.add_argument("--episodes", type=int, default=50, help="episodes (default: 50)")
    evaluate.add_argument(
        "--env", metavar="ID",
        help="the run's own module:Id env, named again (a run directory does not choose code to import)",
    )  # fmt: skip
    evaluate.add_argument(
        "--video", action=argparse.BooleanOptionalAction, default=True, help="write policy.mp4"
    )
    evaluate.set_defaults(run=_evaluate)


def _labels_arguments(labels: argparse.ArgumentParser) -> None:
    labels.add_argument("action", choices=("list", "review", "export", "import"))
    labels.add_argument("run_dir", help="a run directory (holds labels.sqlite)")
    labels.add_argument("--folder", help="export to / import from this folder of PNGs + labels.csv")
    labels.set_defaults(run=_labels)


def _label_arguments(label: argparse.ArgumentParser) -> None:
    label.add_argument("run_dir", help="a run trained with --oracle later")
    label.add_argument("--grid", action="store_true", help="show up to 9 frames at once")
    label.add_argument("--env", metavar="ID", help="the run's own module:Id env, named again")
    label.set_defaults(run=_label)


COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "mnist": ("pool-based active learning on MNIST vs random", _mnist_arguments),
    "collect-goals": ("render goal images from random success states", _collect_goals_arguments),
    "train": ("SAC on a learned reward (VICE-RAQ by default)", _train_arguments),
    "sweep": (
        "many seeds and settings at once, as Ray Tune trials (pip install .[sweep])",
        _sweep_arguments,
    ),
    "evaluate": ("success rate (and video) of a trained run", _evaluate_arguments),
    "labels": (
        "list, review (flip wrong answers), export or import a run's labels",
        _labels_arguments,
    ),
    "label": ("answer, in a window, the frames a run saved for later", _label_arguments),
}
"""Each subcommand's one-line help and the function that adds its arguments."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand, or of ``command`` alone with the others only named.

    As pip builds only the command it runs: ``reward-learning --help`` names the commands and
    imports no module of theirs, so it loads neither torch nor MuJoCo.
    """
    parser = argparse.ArgumentParser(
        prog="reward-learning",
        description="Rewards learned from goal images and a few success queries; MNIST active learning.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, add) in COMMANDS.items():
        subparser = commands.add_parser(name, help=help_text)
        if command is None or command == name:
            add(subparser)
    return parser


def attach_negative_numbers(argv: Sequence[str]) -> list[str]:
    """``--flag -1e-3`` as ``--flag=-1e-3``: argparse reads a negative exponent as a flag."""
    joined: list[str] = []
    for token in argv:
        if (
            joined
            and joined[-1].startswith("--")
            and "=" not in joined[-1]
            and _NUMBER.match(token)
        ):
            joined[-1] = f"{joined[-1]}={token}"
        else:
            joined.append(token)
    return joined


_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; user errors print one line and exit with status 2."""
    tokens = attach_negative_numbers(sys.argv[1:] if argv is None else argv)
    command = tokens[0] if tokens and tokens[0] in COMMANDS else ""
    args = build_parser(command).parse_args(tokens)
    run: Callable[[argparse.Namespace], None] = args.run
    try:
        run(args)
    except UserInputError as e:
        print(f"reward-learning {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"reward-learning {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        if e.errno not in DISK_FULL:
            raise
        print(
            f"reward-learning {args.command}: error: no space left on the device writing "
            f"{e.filename or 'a file'}: free some space and run the command again "
            "(a training run resumes with --resume RUN_DIR)",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
