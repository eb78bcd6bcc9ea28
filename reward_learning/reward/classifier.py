"""Image success classifier: a small CNN with MC dropout, random-shift augmentation and mixup.

The architecture follows VICE-RAQ's official code (two conv layers, max-pooling, dense
256-256-1) with strided 3x3 convolutions, so that an update costs about 1M multiply-adds per
48x48 image on a CPU; it works at any image size. MC dropout on the dense
layers gives the stochastic passes the uncertainty core needs (BALD).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from reward_learning.devices import resolve_device


class SuccessCNN(nn.Module):
    """Logit of P(success | image). Input: float ``(B, 3, H, W)`` in [0, 1]; output ``(B,)``."""

    def __init__(self, dropout: float = 0.2) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(6), nn.Flatten(),
        )  # fmt: skip
        self.head = nn.Sequential(
            nn.Linear(32 * 6 * 6, 256), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(256, 256), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(256, 1),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B,)`` of images ``(B, 3, H, W)``."""
        return self.head(self.features(x)).squeeze(-1)


def random_shift(images: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """Random translation by up to ``pad`` pixels (replicate padding), as in DrQ/SERL."""
    batch, _, height, width = images.shape
    padded = nn.functional.pad(images, (pad, pad, pad, pad), mode="replicate")
    dx = torch.randint(0, 2 * pad + 1, (batch,), generator=generator)
    dy = torch.randint(0, 2 * pad + 1, (batch,), generator=generator)
    rows = (dy[:, None] + torch.arange(height)[None]).to(images.device)  # (B, H)
    cols = (dx[:, None] + torch.arange(width)[None]).to(images.device)  # (B, W)
    index = torch.arange(batch, device=images.device)[:, None, None, None]
    channel = torch.arange(images.shape[1], device=images.device)[None, :, None, None]
    return padded[index, channel, rows[:, None, :, None], cols[:, None, None, :]]


class SuccessClassifier:
    """P(success | image) for uint8 images ``(N, H, W, 3)``.

    Args:
        lr: Adam learning rate.
        mixup_alpha: Beta(alpha, alpha) mixup of images and labels (VICE-RAQ uses 1); 0 turns it off.
        shift: random-shift augmentation in pixels; 0 turns it off.
        label_smoothing: targets become ``eps / 2`` and ``1 - eps / 2`` (SERL).
        seed: seeds the weights, batches and augmentation.
        device: ``auto``, ``cpu`` or ``cuda``.
    """

    def __init__(
        self,
        lr: float = 3e-4,
        mixup_alpha: float = 1.0,
        shift: int = 4,
        label_smoothing: float = 0.0,
        seed: int = 0,
        device: str = "auto",
    ) -> None:
        self.device = resolve_device(device)
        torch.manual_seed(seed)
        self.seed = seed
        self.lr = lr
        self.generator = torch.Generator().manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.model = SuccessCNN().to(self.device)
        self._initial_weights = {k: v.clone() for k, v in self.model.state_dict().items()}
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.mixup_alpha = mixup_alpha
        self.shift = shift
        self.label_smoothing = label_smoothing
        self.version = 0  # counts updates; rewards computed under another version are stale

    def reinitialize(self) -> None:
        """Back to the seeded initial weights, optimizer state and sample streams.

        ``version`` keeps counting. Retraining from the same start on the same sample stream
        makes two classifiers differ mainly where their training data differ.
        """
        self.model.load_state_dict(self._initial_weights)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        self.generator.manual_seed(self.seed)
        self.rng = np.random.default_rng(self.seed)

    def _tensor(self, images: np.ndarray) -> torch.Tensor:
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(
                f"images of shape {images.shape} and dtype {images.dtype}: expected uint8 (N, H, W, 3)"
            )
        return torch.as_tensor(images, device=self.device).permute(0, 3, 1, 2).float().div_(255)

    def train_steps(
        self, positives: np.ndarray, negatives: np.ndarray, steps: int, batch_size: int = 64
    ) -> float:
        """``steps`` Adam steps on balanced batches (``batch_size`` of each class).

        Args:
            positives: uint8 ``(P, H, W, 3)``: goal images and frames called success.
            negatives: uint8 ``(M, H, W, 3)``: policy frames and frames called failure.
            steps: gradient steps.
            batch_size: images drawn (with replacement) from each class per step.

        Returns:
            The mean training loss (binary cross-entropy, nats).
        """
        self.model.train()
        low = self.label_smoothing / 2
        targets = torch.cat([torch.full((batch_size,), 1 - low), torch.full((batch_size,), low)])
        targets = targets.to(self.device)
        losses = []
        for _ in range(steps):
            pos = positives[self.rng.integers(len(positives), size=batch_size)]
            neg = negatives[self.rng.integers(len(negatives), size=batch_size)]
            images = self._tensor(np.concatenate([pos, neg]))
            if self.shift:
                images = random_shift(images, self.shift, self.generator)
            labels = targets
            if self.mixup_alpha > 0:
                lam = torch.as_tensor(
                    self.rng.beta(self.mixup_alpha, self.mixup_alpha, size=len(images)),
                    dtype=torch.float32, device=self.device,
                )  # fmt: skip
                perm = torch.randperm(len(images), generator=self.generator).to(self.device)
                images = (
                    lam[:, None, None, None] * images
                    + (1 - lam[:, None, None, None]) * images[perm]
                )
                labels = lam * labels + (1 - lam) * labels[perm]
            loss = nn.functional.binary_cross_entropy_with_logits(self.model(images), labels)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            losses.append(loss.item())
        self.version += 1
        return float(np.mean(losses)) if losses else float("nan")

    @torch.no_grad()
    def logit(self, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Logits of P(success), dropout off: float32 ``(N,)``."""
        self.model.eval()
        out = [
            self.model(self._tensor(images[i : i + batch_size]))
            for i in range(0, len(images), batch_size)
        ]
        return torch.cat(out).cpu().numpy() if out else np.zeros(0, np.float32)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """P(success), dropout off: float32 ``(N,)``."""
        return 1 / (1 + np.exp(-self.logit(images)))

    def is_success(self, images: np.ndarray) -> np.ndarray:
        """The classifier's verdict, P(success) > 0.5: bool ``(N,)``."""
        return self.logit(images) > 0

    @torch.no_grad()
    def predict_proba_passes(self, images: np.ndarray, n_passes: int) -> np.ndarray:
        """MC-dropout P(success) of ``n_passes`` passes: float32 ``(K, N)``."""
        self.model.train()
        features = self.model.features(self._tensor(images))
        passes = [torch.sigmoid(self.model.head(features).squeeze(-1)) for _ in range(n_passes)]
        return torch.stack(passes).cpu().numpy()

    def save(self, path: str | Path) -> None:
        """Weights, optimizer and version, loadable with ``weights_only=True``."""
        torch.save(
            {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "version": self.version,
            },
            path,
        )

    def load(self, path: str | Path) -> None:
        """Restore what :meth:`save` wrote."""
        state = torch.load(path, map_location=self.device, weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.version = int(state["version"])
