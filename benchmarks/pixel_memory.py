"""Peak memory of a pixel run at 100k env steps: frame store, frame-keyed buffer, networks.

Usage: python -m benchmarks.pixel_memory [--steps 100000] [--task push] [--write]
Trains the run ``reward-learning train TASK --policy-input pixels+proprio --steps STEPS``, with
random actions for all but its last 1,000 env steps (every frame rendered, filed once in the
frame store and named by the buffer's frame stacks; no gradient step before then, which is what
makes it fast) and one evaluation at the end: the last 1,000 steps learn, update the classifier
on the whole replay buffer, ask and checkpoint, as the end of a run that long does. Reports the
process's peak resident memory and what the frames and the buffer's keys hold.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time

import torch

from benchmarks.report import update_section
from reward_learning.run import settings, training


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--task", choices=("push", "drape"), default="push")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        config = settings.task_config(
            args.task, policy_input="pixels+proprio", steps=args.steps,
            learning_starts=args.steps - 1_000, eval_every=args.steps, eval_episodes=5, out=out,
            progress=False, video=False, device="cpu",
        )  # fmt: skip
        run = training.TrainingRun(config)
        run.train()
        buffer = run.model.replay_buffer
        frames_mb = run.frames.nbytes / 2**20
        keys_mb = sum(getattr(buffer, name).nbytes for name in buffer.key_arrays) / 2**20
        run.lock.release()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [
        f"`python -m benchmarks.pixel_memory --steps {args.steps} --task {args.task}` "
        f"({(time.perf_counter() - started) / 60:.0f} min, {time.strftime('%Y-%m-%d')}): "
        f"peak resident memory {peak_mb:,.0f} MB after {run.frames.size:,} frames; the frame "
        f"store's allocation {frames_mb:,.0f} MB, the buffer's frame keys {keys_mb:,.0f} MB.",
    ]
    print("\n".join(lines))
    if args.write:
        update_section(f"pixel-memory-{args.task}", "\n".join(lines))


if __name__ == "__main__":
    main()
