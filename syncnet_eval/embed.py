"""SyncNet embeddings of a frame sequence and of its audio, streamed in bounded chunks."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
import contextlib
from dataclasses import dataclass, field
import threading
import time
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from .constants import (
    AUDIO_SAMPLES_PER_FRAME,
    BATCH_WINDOWS,
    MFCC_PER_FRAME,
    MFCC_PER_WINDOW,
    WINDOW_FRAMES,
)
from .models.syncnet import SyncNet

__all__ = [
    "BatchedEmbedder",
    "Bf16Stream",
    "Embedder",
    "SyncNetEmbedder",
    "amx_available",
    "lip_stream_2d",
    "max_windows_for_audio",
    "num_windows",
]


class Embedder(Protocol):
    """What the recipes need from a model: embeddings of lip windows and of audio windows whose
    distances rank AV alignments (SyncNet's :class:`SyncNetEmbedder`, or a test double whose
    embeddings carry a known signal)."""

    def embed_lips(
        self,
        chunks: Iterable[np.ndarray],
        max_windows: int | None = None,
        expected_windows: int | None = None,
    ) -> torch.Tensor:
        """(W, D) embeddings of the 5-frame windows of (n, H, W, 3) uint8 BGR frame chunks."""
        ...

    def embed_audio(self, mfcc_t13: np.ndarray, n_windows: int) -> torch.Tensor:
        """(n_windows, D) embeddings of MFCC columns 4v..4v+19 of a (T, 13) MFCC."""
        ...


def num_windows(num_frames: int, num_samples: int) -> int:
    """Windows the reference scores from a track's frames and 16 kHz samples.

    ``min_length = min(frames, samples // 640)`` and ``N = min_length - 5``: the last possible
    window start (``min_length - 5``) is never used (spec 7.1). Never negative.
    """
    min_length = min(num_frames, num_samples // AUDIO_SAMPLES_PER_FRAME)
    return max(0, min_length - WINDOW_FRAMES)


def max_windows_for_audio(num_samples: int) -> int:
    """The most windows ``num_samples`` of audio allow, whatever the frame count."""
    return num_windows(num_samples // AUDIO_SAMPLES_PER_FRAME, num_samples)


def lip_stream_2d(lip: nn.Sequential) -> nn.Sequential:
    """The lip stream as 2D layers, with eval-mode BatchNorm folded into the convolutions.

    Every layer after the first has temporal extent 1, and the first one's (5, 7, 7) kernel over
    a 5-frame window is a 2D convolution over 15 stacked channels (index ``c * 5 + t``). 2D
    convolutions in channels-last layout are what oneDNN/cuDNN run fastest; folding BatchNorm
    removes a full pass over each activation. Results equal the 3D stream to float rounding
    (~1e-6 relative).
    """
    return _folded_stream(lip)


def _folded_stream(stream: nn.Sequential) -> nn.Sequential:
    """``stream`` as 2D layers with eval-mode BatchNorm folded into the convolution before it
    (3D convolutions of temporal extent 1 or of a whole window become 2D; see
    :func:`lip_stream_2d`)."""
    mods = list(stream)
    out: list[nn.Module] = []
    i = 0
    while i < len(mods):
        mod = mods[i]
        if isinstance(mod, nn.Conv3d | nn.Conv2d):
            w = mod.weight.detach()
            if w.dim() == 4:
                w = w.unsqueeze(2)
            kt = w.shape[2]
            conv = nn.Conv2d(
                w.shape[1] * kt,
                w.shape[0],
                (w.shape[3], w.shape[4]),
                stride=_pair(mod.stride),
                padding=_pair(mod.padding),
            )
            weight = w.reshape(w.shape[0], -1, *w.shape[3:]).clone()
            bias = mod.bias.detach().clone() if mod.bias is not None else torch.zeros(w.shape[0])
            nxt = mods[i + 1] if i + 1 < len(mods) else None
            if isinstance(nxt, nn.BatchNorm3d | nn.BatchNorm2d):
                assert nxt.running_var is not None and nxt.running_mean is not None
                scale = nxt.weight.detach() / torch.sqrt(nxt.running_var + nxt.eps)
                weight = weight * scale[:, None, None, None]
                bias = (bias - nxt.running_mean) * scale + nxt.bias.detach()
                i += 1
            conv.weight.data.copy_(weight)
            assert conv.bias is not None
            conv.bias.data.copy_(bias)
            if i + 1 < len(mods) and isinstance(mods[i + 1], nn.ReLU):
                out.append(_ConvReLU(conv))
                i += 1
            else:
                out.append(conv)
        elif isinstance(mod, nn.MaxPool3d):
            out.append(nn.MaxPool2d(_pair(mod.kernel_size), _pair(mod.stride), _pair(mod.padding)))
        elif isinstance(mod, nn.BatchNorm3d):
            bn2 = nn.BatchNorm2d(mod.num_features, eps=mod.eps)
            bn2.load_state_dict(mod.state_dict())
            out.append(bn2)
        else:
            out.append(mod)
        i += 1
    return nn.Sequential(*out).eval()


def _pair(value: Any) -> tuple[int, int]:
    """The spatial (H, W) part of a layer's ``(T, H, W)`` or ``(H, W)`` size, stride or padding."""
    t_h_w = tuple(value) if isinstance(value, tuple) else (value,) * 3
    return int(t_h_w[-2]), int(t_h_w[-1])


class _ConvReLU(nn.Module):
    """Conv2d followed by ReLU; one fused oneDNN call on CPU in fp32 (bit-identical results).

    The fused kernel applies the ReLU while the output is still in cache instead of in a
    second pass over the activation. Elsewhere (CUDA, autocast) it is conv then ``relu_``.
    """

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.conv
        if (
            _FUSED_CONV_RELU
            and x.device.type == "cpu"
            and x.dtype == torch.float32
            and not (torch.is_autocast_enabled("cpu"))
        ):
            fused: torch.Tensor = torch.ops.mkldnn._convolution_pointwise(
                x, c.weight, c.bias, c.padding, c.stride, c.dilation, c.groups, "relu", [], ""
            )
            return fused
        return torch.relu_(c(x))


def _has_fused_conv_relu() -> bool:
    """Whether this torch build has oneDNN's fused convolution + ReLU operator."""
    try:
        return bool(torch.backends.mkldnn.is_available()) and hasattr(  # type: ignore[no-untyped-call]
            torch.ops.mkldnn, "_convolution_pointwise"
        )
    except (AttributeError, RuntimeError):
        return False


_FUSED_CONV_RELU = _has_fused_conv_relu()


def amx_available() -> bool:
    """Whether this CPU has AMX tiles (Intel Sapphire Rapids and later), on which oneDNN runs
    bf16 convolutions several times faster than fp32."""
    is_amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    try:
        return bool(is_amx()) if is_amx is not None else False
    except RuntimeError:
        return False


def _out_hw(
    hw: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]
) -> tuple[int, int]:
    """Output (H, W) of a convolution or (floor-mode) pooling window."""
    (h, w), (kh, kw), (sh, sw), (ph, pw) = hw, kernel, stride, padding
    return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1


@dataclass(frozen=True)
class _PackedConv:
    """One 2D convolution of a :class:`Bf16Stream`: oneDNN-packed bf16 weights, bf16 bias."""

    weight: torch.Tensor
    bias: torch.Tensor
    padding: tuple[int, int]
    stride: tuple[int, int]
    relu: bool

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = torch.ops.mkldnn._convolution_pointwise(
            x,
            self.weight,
            self.bias,
            self.padding,
            self.stride,
            (1, 1),
            1,
            "relu" if self.relu else "none",
            [],
            "",
        )
        return out


class Bf16Stream:
    """A SyncNet conv stream in bf16 end to end on a CPU (``--precision bf16``).

    Built once per input size from the folded 2D stream (:func:`lip_stream_2d`): every
    convolution's bf16 weights are reordered once into the layout oneDNN picks for that input
    (AMX ``brg_conv`` kernels where the CPU has them), and each runs with its ReLU fused, on
    channels-last bf16 activations; max-pooling stays in bf16. Per batch there is no weight
    reorder and no fp32<->bf16 round trip between layers: the windows are built in bf16 from
    the uint8 frames (0-255 are exact in bf16) and only the (n, 512) output returns to fp32
    for the small fully connected head. The numbers move like autocast's (bf16 activations,
    fp32 accumulation); ``scripts/bench_bf16.py`` measures by how much.
    """

    def __init__(self, stream: nn.Sequential, input_nchw: tuple[int, int, int, int]) -> None:
        """Args:
        stream: the model's conv stream (``netcnnlip`` or ``netcnnaud``).
        input_nchw: the (batch, C, H, W) input it will see (weights are packed for it).
        """
        self.layers: list[Any] = []
        n, _, h, w = input_nchw
        for mod in _folded_stream(stream):
            conv = mod.conv if isinstance(mod, _ConvReLU) else mod
            if isinstance(conv, nn.Conv2d):
                assert conv.bias is not None
                weight = conv.weight.detach()
                padding, stride = _pair(conv.padding), _pair(conv.stride)
                kernel = _pair(conv.kernel_size)
                weight = weight.to(torch.bfloat16).contiguous()
                packed = torch._C._nn.mkldnn_reorder_conv2d_weight(  # type: ignore[call-arg]
                    weight.to_mkldnn(),
                    list(padding),
                    list(stride),
                    [1, 1],
                    1,
                    [n, weight.shape[1], h, w],
                )
                bias = conv.bias.detach().to(torch.bfloat16)
                relu = isinstance(mod, _ConvReLU)
                self.layers.append(_PackedConv(packed, bias, padding, stride, relu))
                h, w = _out_hw((h, w), kernel, stride, padding)
            elif isinstance(mod, nn.MaxPool2d):
                kernel, stride = _pair(mod.kernel_size), _pair(mod.stride)
                padding = _pair(mod.padding)
                if kernel != (1, 1) or stride != (1, 1):  # the audio stream's 1x1 pool: identity
                    self.layers.append(mod)
                    h, w = _out_hw((h, w), kernel, stride, padding)
            elif isinstance(mod, nn.ReLU):
                self.layers.append(torch.relu_)
            else:
                raise TypeError(f"no bf16 layer for {type(mod).__name__}")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(n, C, H, W) bf16 channels-last -> (n, C', H', W') bf16."""
        for layer in self.layers:
            x = layer(x)
        return x


@dataclass
class SyncNetEmbedder:
    """A SyncNet on a device, in eval mode, embedding windows ``batch_size`` at a time."""

    model: SyncNet
    device: torch.device
    batch_size: int = BATCH_WINDOWS
    precision: str = "fp32"  # bf16/fp16: opt-in autocast (numbers move; see scripts/bench.py)

    def __post_init__(self) -> None:
        self.model = self.model.to(self.device).eval()
        self._lip2d = lip_stream_2d(self.model.netcnnlip).to(self.device)
        self._lip2d = self._lip2d.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        # bf16 on a CPU: bf16 end to end through packed oneDNN convolutions (see Bf16Stream);
        # elsewhere (CUDA, fp16) reduced precision is autocast.
        self._bf16_cpu = self.precision == "bf16" and self.device.type == "cpu" and _FUSED_CONV_RELU
        self._bf16_streams: dict[tuple[str, int, int, int], Bf16Stream] = {}

    def _bf16_stream(self, kind: str, x: torch.Tensor) -> Bf16Stream:
        """The packed bf16 stream for inputs shaped like ``x`` (built once per input size)."""
        key = (kind, *x.shape[1:])
        stream = self._bf16_streams.get(key)
        if stream is None:
            layers = self.model.netcnnlip if kind == "lip" else self.model.netcnnaud
            stream = Bf16Stream(layers, (self.batch_size, *key[1:]))
            self._bf16_streams[key] = stream
        return stream

    @torch.inference_mode()
    def embed_lips(
        self,
        chunks: Iterable[np.ndarray],
        max_windows: int | None = None,
        expected_windows: int | None = None,
    ) -> torch.Tensor:
        """Lip embeddings of every 5-frame window of a frame stream.

        Frames cross to the device once, as uint8; windows are stacked there into 15-channel
        channels-last images for the 2D lip stream (see :func:`lip_stream_2d`). Numerically
        this is the reference's per-window forward pass.

        Args:
            chunks: (n, H, W, 3) uint8 BGR frame chunks, in order.
            max_windows: embed at most this many windows (None: all T - 4); the stream is
                still consumed to its end.
            expected_windows: how many windows the caller expects (a preallocation hint only).

        Returns:
            (W, 1024) float32 tensor on the embedder's device.
        """
        hint = [n for n in (max_windows, expected_windows) if n is not None]
        out = _GrowingRows(1024, self.device, capacity=min(hint) if hint else None)
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
                out.append(self._lip_windows(torch.from_numpy(np.ascontiguousarray(block))))
                start += n_win
                done += n_win
            # Keep the last 4 frames for the next chunk's windows. Once max_windows is reached the
            # remaining chunks are still drained (not embedded): callers count every frame.
            carry = frames[start:][-(WINDOW_FRAMES - 1) :]
        return out.rows()

    def _lip_windows(self, block: torch.Tensor) -> torch.Tensor:
        """(n + 4, H, W, 3) uint8 frames -> (n, 1024) embeddings of their n windows."""
        return self._lip_forward(self._lip_input(block))

    def _lip_input(self, block: torch.Tensor) -> torch.Tensor:
        """(n + 4, H, W, 3) uint8 frames -> (n, H, W, 15) float windows on the device."""
        dtype = torch.bfloat16 if self._bf16_cpu else torch.float32  # 0-255 exact in both
        x = block.to(self.device, non_blocking=True).to(dtype)  # uint8 crosses, float on device
        n, h, w = x.shape[0] - WINDOW_FRAMES + 1, x.shape[1], x.shape[2]
        # unfold -> (n, H, W, 3, 5); the reshape is the one copy: channel c * 5 + t, channels-last.
        return x.unfold(0, WINDOW_FRAMES, 1).reshape(n, h, w, 3 * WINDOW_FRAMES)

    def _lip_forward(self, win_nhwc: torch.Tensor) -> torch.Tensor:
        """(n, H, W, 15) float windows -> (n, 1024) lip embeddings (one forward pass)."""
        win = win_nhwc.permute(0, 3, 1, 2)  # (n, 15, H, W) channels-last, BGR 0-255
        if self._bf16_cpu:
            feat = self._bf16_stream("lip", win)(win.to(torch.bfloat16))
            fc: torch.Tensor = self.model.netfclip(feat.flatten(1).float())
            return fc
        with self._autocast():
            emb: torch.Tensor = self.model.netfclip(self._lip2d(win).flatten(1))
        return emb.float()

    def _audio_forward(self, wins: torch.Tensor) -> torch.Tensor:
        """(n, 1, 13, 20) float MFCC windows -> (n, 1024) audio embeddings (one forward pass)."""
        if self._bf16_cpu:
            feat = self._bf16_stream("audio", wins)(wins.to(torch.bfloat16))
            fc: torch.Tensor = self.model.netfcaud(feat.flatten(1).float())
            return fc
        with self._autocast():
            emb: torch.Tensor = self.model.forward_aud(wins)
        return emb.float()

    def _autocast(self) -> contextlib.AbstractContextManager[None]:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

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
        out = _GrowingRows(1024, self.device, capacity=n_windows)
        for start in range(0, n_windows, self.batch_size):
            stop = min(n_windows, start + self.batch_size)
            cols = cc[:, MFCC_PER_FRAME * start : MFCC_PER_FRAME * (stop - 1) + MFCC_PER_WINDOW]
            wins = cols.unfold(1, MFCC_PER_WINDOW, MFCC_PER_FRAME)  # (13, n, 20)
            wins = wins.permute(1, 0, 2).unsqueeze(1).contiguous()  # (n, 1, 13, 20)
            out.append(self._audio_forward(wins))
        return out.rows()


@dataclass
class _Request:
    """Windows of one caller waiting for a shared forward pass."""

    key: tuple[Any, ...]  # ("lip", H, W) or ("audio",): only equal keys share a pass
    windows: torch.Tensor  # (n, H, W, 15) lip windows or (n, 1, 13, 20) MFCC windows
    submitted_s: float
    result: Future[torch.Tensor] = field(default_factory=Future)

    @property
    def n(self) -> int:
        return int(self.windows.shape[0])


def take_shared_pass(pending: deque[_Request], max_windows: int) -> list[_Request]:
    """Remove and return the requests of the next forward pass from ``pending``.

    The oldest request decides the kind (lip windows of one frame size, or audio windows);
    later requests of the same kind join it, in order, while the pass stays within
    ``max_windows`` windows (a request is never split; one larger than ``max_windows`` runs
    alone). Requests of other kinds keep their places.
    """
    first = pending.popleft()
    taken, kept, total = [first], deque[_Request](), first.n
    while pending:
        req = pending.popleft()
        if req.key == first.key and total + req.n <= max_windows:
            taken.append(req)
            total += req.n
        else:
            kept.append(req)
    pending.extend(kept)
    return taken


@dataclass
class BatchedEmbedder(SyncNetEmbedder):
    """A :class:`SyncNetEmbedder` whose forward passes are shared by the threads calling it.

    GPU throughput mode: several videos are scored at once, one thread each (see
    ``batch.Scorer.score_many``); each still cuts its frames and MFCC into windows itself (the
    host-to-device copy and the window unfolding happen in its own thread, overlapping the
    model), but the model runs in one server thread, on the windows of several videos at a
    time, up to ``batch_size`` windows per pass. A pass starts as soon as it is full, when
    every registered stream is waiting for one, or when its oldest request has waited
    ``max_wait_s``. Every window's embedding is the same computation as in a pass of its own
    (eval-mode BatchNorm is folded; nothing mixes windows), so the numbers equal per-video
    scoring to float rounding (~1e-6; fp32 by default).

    Register each video with :meth:`stream` for as long as it is being scored; call
    :meth:`close` (or use the embedder as a context manager) when done.

    Attributes:
        max_wait_s: longest a request waits for others to join its pass.
        forward_passes: passes run so far (lip and audio).
        windows_embedded: windows embedded so far (lip and audio).
    """

    max_wait_s: float = 0.005

    def __post_init__(self) -> None:
        super().__post_init__()
        self._cond = threading.Condition()
        self._pending: deque[_Request] = deque()
        self._streams = 0
        self._closed = False
        self.forward_passes = 0
        self.windows_embedded = 0
        self._server = threading.Thread(
            target=self._serve, name="syncnet-eval-shared-embedder", daemon=True
        )
        self._server.start()

    @contextlib.contextmanager
    def stream(self) -> Iterator[None]:
        """Register one video being scored (passes wait for registered streams only)."""
        with self._cond:
            self._streams += 1
        try:
            yield
        finally:
            with self._cond:
                self._streams -= 1
                self._cond.notify_all()

    def close(self) -> None:
        """Run what is pending, then stop the server thread."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._server.join()

    def __enter__(self) -> BatchedEmbedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _lip_forward(self, win_nhwc: torch.Tensor) -> torch.Tensor:
        return self._submit(("lip", *win_nhwc.shape[1:]), win_nhwc)

    def _audio_forward(self, wins: torch.Tensor) -> torch.Tensor:
        return self._submit(("audio",), wins)

    def _submit(self, key: tuple[Any, ...], windows: torch.Tensor) -> torch.Tensor:
        req = _Request(key, windows, time.monotonic())
        with self._cond:
            if self._closed:
                raise RuntimeError("the shared embedder is closed")
            self._pending.append(req)
            self._cond.notify_all()
        return req.result.result()

    def _ready(self, now: float) -> bool:
        """Whether the next pass should start now (called with the lock held)."""
        first = self._pending[0]
        queued = sum(r.n for r in self._pending if r.key == first.key)
        return (
            self._closed
            or queued >= self.batch_size
            or len(self._pending) >= max(1, self._streams)
            or now - first.submitted_s >= self.max_wait_s
        )

    def _serve(self) -> None:
        while True:
            with self._cond:
                while not (self._pending and self._ready(time.monotonic())):
                    if self._closed and not self._pending:
                        return
                    wait_s = None
                    if self._pending:
                        age = time.monotonic() - self._pending[0].submitted_s
                        wait_s = max(0.0, self.max_wait_s - age)
                    self._cond.wait(wait_s)
                group = take_shared_pass(self._pending, self.batch_size)
            self._run(group)

    def _run(self, group: list[_Request]) -> None:
        try:
            with torch.inference_mode():
                x = group[0].windows if len(group) == 1 else torch.cat([r.windows for r in group])
                if group[0].key[0] == "lip":
                    emb = SyncNetEmbedder._lip_forward(self, x)
                else:
                    emb = SyncNetEmbedder._audio_forward(self, x)
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller
            for req in group:
                req.result.set_exception(exc)
            return
        self.forward_passes += 1
        self.windows_embedded += int(x.shape[0])
        start = 0
        for req in group:
            req.result.set_result(emb[start : start + req.n])
            start += req.n


class _GrowingRows:
    """Rows appended into one preallocated tensor, grown by doubling.

    Keeping each batch's small output alive between the large, short-lived frame and
    activation buffers fragmented glibc's heap on long videos (RSS grew ~10 MB/s on 1080p
    input while live data stayed ~250 MB); one buffer allocated up front does not.
    """

    def __init__(self, width: int, device: torch.device, capacity: int | None = None) -> None:
        self._buf = torch.empty((max(capacity or 0, 256), width), device=device)
        self._n = 0

    def append(self, rows: torch.Tensor) -> None:
        need = self._n + rows.shape[0]
        if need > self._buf.shape[0]:
            grown = torch.empty(
                (max(need, 2 * self._buf.shape[0]), self._buf.shape[1]),
                dtype=self._buf.dtype,
                device=self._buf.device,
            )
            grown[: self._n] = self._buf[: self._n]
            self._buf = grown
        self._buf[self._n : need] = rows
        self._n = need

    def rows(self) -> torch.Tensor:
        return self._buf[: self._n]
