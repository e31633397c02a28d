"""SyncNet embeddings of a frame sequence and of its audio, streamed in bounded chunks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from .config import AUDIO_SAMPLES_PER_FRAME, WINDOW_FRAMES
from .models.syncnet import SyncNet

__all__ = ["SyncNetEmbedder", "num_windows"]

_MFCC_PER_FRAME = 4  # 100 Hz MFCC / 25 fps video
_MFCC_WINDOW = 20  # 5 frames of audio


def num_windows(num_frames: int, num_samples: int) -> int:
    """Windows the reference scores: min_length - 5 (the last possible start is never used)."""
    min_length = min(num_frames, num_samples // AUDIO_SAMPLES_PER_FRAME)
    return max(0, min_length - WINDOW_FRAMES)


@dataclass
class SyncNetEmbedder:
    """A SyncNet on a device, in eval mode, embedding windows ``batch_size`` at a time."""

    model: SyncNet
    device: torch.device
    batch_size: int = 20

    def __post_init__(self) -> None:
        self.model = self.model.to(self.device).eval()

    @torch.inference_mode()
    def embed_lips(self, chunks: Iterable[np.ndarray], max_windows: int | None = None):
        """Lip embeddings of every 5-frame window of a frame stream.

        The first (5, 7, 7) conv slides over time on the whole chunk, so each frame is copied to
        the device once instead of five times; every later layer has temporal extent 1 and so
        sees windows as a batch. Numerically this is the reference's per-window forward pass.

        Args:
            chunks: (n, H, W, 3) uint8 BGR frame chunks, in order.
            max_windows: stop after this many windows (None: all T - 4).

        Returns:
            (W, 1024) float32 tensor on the embedder's device.
        """
        lip = self.model.netcnnlip
        first, rest = lip[0], lip[1:]
        outs: list[torch.Tensor] = []
        carry: np.ndarray | None = None
        done = 0
        for chunk in chunks:
            frames = chunk if carry is None else np.concatenate([carry, chunk])
            start = 0
            while frames.shape[0] - start >= WINDOW_FRAMES:
                if max_windows is not None and done >= max_windows:
                    break
                n_win = min(self.batch_size, frames.shape[0] - start - WINDOW_FRAMES + 1)
                if max_windows is not None:
                    n_win = min(n_win, max_windows - done)
                block = frames[start : start + n_win + WINDOW_FRAMES - 1]
                x = torch.from_numpy(np.ascontiguousarray(block)).to(self.device)
                x = x.permute(3, 0, 1, 2).unsqueeze(0).float()  # (1, 3, T, H, W) BGR 0-255
                y = first(x)  # (1, 96, n_win, h, w)
                y = y.permute(2, 1, 0, 3, 4)  # (n_win, 96, 1, h, w)
                y = rest(y).flatten(1)
                outs.append(self.model.netfclip(y))
                start += n_win
                done += n_win
            carry = frames[start:]
            if max_windows is not None and done >= max_windows:
                break
        if not outs:
            return torch.empty((0, 1024), device=self.device)
        return torch.cat(outs)

    @torch.inference_mode()
    def embed_audio(self, mfcc_t13: np.ndarray, n_windows: int) -> torch.Tensor:
        """Audio embeddings of windows 0..n_windows-1 (MFCC columns 4v..4v+19).

        Args:
            mfcc_t13: (T, 13) MFCC at 100 Hz.
            n_windows: number of windows.

        Returns:
            (n_windows, 1024) float32 tensor on the embedder's device.
        """
        cc = torch.from_numpy(np.ascontiguousarray(mfcc_t13.T)).float().to(self.device)
        outs = []
        for start in range(0, n_windows, self.batch_size):
            stop = min(n_windows, start + self.batch_size)
            cols = cc[:, _MFCC_PER_FRAME * start : _MFCC_PER_FRAME * (stop - 1) + _MFCC_WINDOW]
            wins = cols.unfold(1, _MFCC_WINDOW, _MFCC_PER_FRAME)  # (13, n, 20)
            wins = wins.permute(1, 0, 2).unsqueeze(1).contiguous()  # (n, 1, 13, 20)
            outs.append(self.model.forward_aud(wins))
        if not outs:
            return torch.empty((0, 1024), device=self.device)
        return torch.cat(outs)
