"""Wav2Lip's lip-sync expert (``SyncNet_color``), written from its published description.

Prajwal et al., "A Lip Sync Expert Is All You Need for Speech to Lip Generation In the Wild"
(ACM MM 2020), section 3.1; the architecture of ``models/syncnet.py`` in Rudrabha/Wav2Lip. Every
layer is a convolution, BatchNorm and ReLU (``models/conv.py``'s ``Conv2d``), optionally adding
its input before the ReLU (``residual``). The face stream takes 5 stacked colour frames (15
channels, the lower half of 96x96 BGR face crops: (B, 15, 48, 96)); the audio stream one
(1, 80, 16) mel window. Both give 512-d L2-normalised embeddings; the expert's sync
probability is their cosine similarity.

Parameter names are the published checkpoint's (``face_encoder.N.conv_block.0.weight``, ...), so
``lipsync_expert.pth`` (its ``state_dict``) loads as it is.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

__all__ = ["Wav2LipSyncNet"]

# (in, out, kernel, stride, padding, residual): models/syncnet.py's layer table.
_FACE_LAYERS = (
    (15, 32, 7, 1, 3, False),
    (32, 64, 5, (1, 2), 1, False),
    (64, 64, 3, 1, 1, True),
    (64, 64, 3, 1, 1, True),
    (64, 128, 3, 2, 1, False),
    (128, 128, 3, 1, 1, True),
    (128, 128, 3, 1, 1, True),
    (128, 128, 3, 1, 1, True),
    (128, 256, 3, 2, 1, False),
    (256, 256, 3, 1, 1, True),
    (256, 256, 3, 1, 1, True),
    (256, 512, 3, 2, 1, False),
    (512, 512, 3, 1, 1, True),
    (512, 512, 3, 1, 1, True),
    (512, 512, 3, 2, 1, False),
    (512, 512, 3, 1, 0, False),
    (512, 512, 1, 1, 0, False),
)  # fmt: skip
_AUDIO_LAYERS = (
    (1, 32, 3, 1, 1, False),
    (32, 32, 3, 1, 1, True),
    (32, 32, 3, 1, 1, True),
    (32, 64, 3, (3, 1), 1, False),
    (64, 64, 3, 1, 1, True),
    (64, 64, 3, 1, 1, True),
    (64, 128, 3, 3, 1, False),
    (128, 128, 3, 1, 1, True),
    (128, 128, 3, 1, 1, True),
    (128, 256, 3, (3, 2), 1, False),
    (256, 256, 3, 1, 1, True),
    (256, 256, 3, 1, 1, True),
    (256, 512, 3, 1, 0, False),
    (512, 512, 1, 1, 0, False),
)  # fmt: skip

Layer = tuple[int, int, int, int | tuple[int, int], int, bool]


class _ConvBlock(nn.Module):
    """Convolution + BatchNorm (+ the input when residual), then ReLU."""

    def __init__(self, layer: Layer) -> None:
        super().__init__()
        cin, cout, kernel, stride, padding, residual = layer
        self.conv_block = nn.Sequential(
            nn.Conv2d(cin, cout, kernel, stride, padding), nn.BatchNorm2d(cout)
        )
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv_block(x)
        if self.residual:
            out = out + x
        return F.relu(out)


class Wav2LipSyncNet(nn.Module):
    """The expert: ``embed_faces`` and ``embed_audio`` give unit 512-d vectors."""

    def __init__(self) -> None:
        super().__init__()
        self.face_encoder = nn.Sequential(*(_ConvBlock(layer) for layer in _FACE_LAYERS))
        self.audio_encoder = nn.Sequential(*(_ConvBlock(layer) for layer in _AUDIO_LAYERS))

    def embed_faces(self, faces: torch.Tensor) -> torch.Tensor:
        """(B, 512) unit embeddings of (B, 15, 48, 96) float face windows in [0, 1]."""
        return F.normalize(self.face_encoder(faces).flatten(1), p=2, dim=1)

    def embed_audio(self, mels: torch.Tensor) -> torch.Tensor:
        """(B, 512) unit embeddings of (B, 1, 80, 16) normalised mel windows."""
        return F.normalize(self.audio_encoder(mels).flatten(1), p=2, dim=1)

    def forward(self, mels: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        """(B,) cosine similarity of each audio window with its face window."""
        return F.cosine_similarity(self.embed_audio(mels), self.embed_faces(faces))
