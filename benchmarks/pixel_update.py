"""What a pixel run costs: env steps per second and milliseconds per DrQ gradient step.

Usage: python -m benchmarks.pixel_update [--device cpu] [--threads 1 2] [--write]
For each encoder (pixels.ENCODERS) x batch size x torch threads it builds the learner
``reward-learning train push --policy-input pixels+proprio`` builds, fills its buffer with 600
real env steps (rendered frames, the frame store, the frame stacks), then times 50 gradient
steps, and the env steps alone. From the two it gives the env steps per second of a whole run
at one and two gradient steps per env step (classifier updates and evaluations not counted:
they are a few percent of a run, benchmarks/README.md). Run it alone on the machine.
``--write`` puts the table in benchmarks/README.md (section ``pixel-update-DEVICE``).
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time

import torch

from benchmarks.report import machine, update_section
from reward_learning.run import settings, training

FILL = 600  # env steps before timing: random actions, frames filed and stacked


def measure(encoder: str, batch: int, threads: int, device: str) -> tuple[float, float]:
    """(ms per gradient step, ms per env step without updates)."""
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as out:
        config = settings.task_config(
            "push", policy_input="pixels+proprio", encoder=encoder, batch_size=batch,
            learning_starts=FILL, steps=FILL, out=out, progress=False, video=False, device=device,
            threads=threads,
        )  # fmt: skip
        run = training.TrainingRun(config)
        model = run.model
        started = time.perf_counter()
        model.learn(FILL)  # random actions only: env, frame store and buffer
        env_ms = 1000 * (time.perf_counter() - started) / FILL
        model.train(gradient_steps=5, batch_size=batch)  # warm-up
        if device == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        model.train(gradient_steps=50, batch_size=batch)
        if device == "cuda":
            torch.cuda.synchronize()
        update_ms = 1000 * (time.perf_counter() - started) / 50
        run.lock.release()
    return update_ms, env_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--encoders", nargs="+", default=["lean", "drq"])
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    lines = [
        f"Machine: {machine()}{' + CUDA: ' + torch.cuda.get_device_name() if args.device == 'cuda' else ''}; "
        f"torch {torch.__version__}; `python -m benchmarks.pixel_update --device {args.device}`; "
        f"{time.strftime('%Y-%m-%d')}.",
        "",
        "| encoder | batch | threads | ms per gradient step | ms per env step | env steps/s at 1 update per step | at 2 |",
        "|---|---|---|---|---|---|---|",
    ]
    for encoder, batch, threads in itertools.product(args.encoders, args.batches, args.threads):
        update_ms, env_ms = measure(encoder, batch, threads, args.device)
        rates = [1000 / (env_ms + k * update_ms) for k in (1, 2)]
        lines.append(
            f"| {encoder} | {batch} | {threads} | {update_ms:.1f} | {env_ms:.1f} | "
            f"{rates[0]:.1f} | {rates[1]:.1f} |"
        )
        print(lines[-1], flush=True)
    if args.write:
        update_section(f"pixel-update-{args.device}", "\n".join(lines))


if __name__ == "__main__":
    main()
