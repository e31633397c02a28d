"""Record the published sync experts' outputs on a short shared clip, for the parity tests.

Run in the reference venv (torch + librosa + opencv; never in CI) with a checkout of the
published code, which is never committed here::

    git -C /work/.mirror/Rudrabha+Wav2Lip/repo archive HEAD | tar -x -C /tmp/wav2lip-ref
    PYTHONPATH=$PWD /work/venv-ref/bin/python scripts/record_expert_reference.py wav2lip \\
        --checkout /tmp/wav2lip-ref --out tests/data/wav2lip_reference.json

    git -C /work/.mirror/hkchengrex+av-benchmark/repo archive HEAD | tar -x -C /tmp/avbench-ref
    PYTHONPATH=$PWD /work/venv-ref/bin/python scripts/record_expert_reference.py desync \\
        --checkout /tmp/avbench-ref --out tests/data/desync_reference.json

The clip is decoded with this package's decoder (``decode.iter_frames`` without the JPEG round
trip, ``decode.read_audio``), as the test decodes it; the JSON keeps the inputs' sha256 so a
test whose decoder gives other pixels says so instead of comparing different inputs. The
weights are :func:`syncnet_eval.models.state.seeded_state_dict` (seed 0) loaded into the
*published* model class; the inputs are built by the published pre-processing (``audio.py``'s
``melspectrogram``; ``color_syncnet_train.py``'s ``Dataset.get_window``/``crop_audio_window``
and its stacking lines) from frames written as lossless files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
import sys
import tempfile

import numpy as np

CLIP = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "media"
    / ("lrs3_C8zY0oAdQrs_00018_strictcrop224.mp4")
)
FRAMES = 12  # frames decoded (8 windows of 5)
FACE_BOX = (40, 24, 188, 200)  # (x1, y1, x2, y2) cut from each 224 crop, as preprocess.py does
SEED = 0
WINDOWS = 4


def clip_inputs() -> tuple[np.ndarray, np.ndarray]:
    """(FRAMES, H, W, 3) uint8 BGR frames and the int16 audio of those frames."""
    from syncnet_eval.decode import iter_frames, read_audio

    frames = np.concatenate(list(iter_frames(CLIP.resolve(), jpeg_roundtrip=False)))[:FRAMES]
    audio = read_audio(CLIP.resolve())[: FRAMES * 640]
    return frames, audio


def digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _rounded(array: np.ndarray) -> list:  # type: ignore[type-arg]
    return np.round(np.asarray(array, dtype=np.float64), 7).tolist()


def record_wav2lip(checkout: Path) -> dict:  # type: ignore[type-arg]
    import cv2
    import librosa
    import torch

    from syncnet_eval.models.state import seeded_state_dict

    # Wav2Lip pins librosa 0.7.0: stft pads with 'reflect' there (0.10 changed the default to
    # 'constant'), and filters.mel took positional arguments.
    stft, mel = librosa.stft, librosa.filters.mel
    librosa.stft = lambda y, **kw: stft(y=y, pad_mode="reflect", **kw)
    librosa.filters.mel = lambda sr, n_fft, **kw: mel(sr=sr, n_fft=n_fft, **kw)

    frames, samples = clip_inputs()
    with tempfile.TemporaryDirectory() as tmp:
        video_dir = Path(tmp) / "clip"
        video_dir.mkdir()
        x1, y1, x2, y2 = FACE_BOX
        for i, frame in enumerate(frames):  # preprocess.py: fb[j][y1:y2, x1:x2], lossless here
            ok, png = cv2.imencode(".png", frame[y1:y2, x1:x2])
            (video_dir / f"{i}.jpg").write_bytes(png.tobytes())
        import soundfile

        soundfile.write(video_dir / "audio.wav", samples, 16000, subtype="PCM_16")
        sys.path.insert(0, str(checkout))
        sys.argv = ["color_syncnet_train.py", "--data_root", tmp, "--checkpoint_dir", tmp]
        import audio as w2l_audio
        import color_syncnet_train as train
        from hparams import hparams
        from models import SyncNet_color

        wav = w2l_audio.load_wav(str(video_dir / "audio.wav"), hparams.sample_rate)
        orig_mel = w2l_audio.melspectrogram(wav).T
        dataset = object.__new__(train.Dataset)
        faces, mels = [], []
        for start in range(WINDOWS):
            names = dataset.get_window(str(video_dir / f"{start}.jpg"))
            window = [
                cv2.resize(cv2.imread(n), (hparams.img_size, hparams.img_size)) for n in names
            ]
            # color_syncnet_train.Dataset.__getitem__'s lines, as published:
            x = np.concatenate(window, axis=2) / 255.0
            x = x.transpose(2, 0, 1)
            x = x[:, x.shape[1] // 2 :]
            faces.append(torch.FloatTensor(x))
            m = dataset.crop_audio_window(orig_mel.copy(), str(video_dir / f"{start}.jpg"))
            mels.append(torch.FloatTensor(m.T).unsqueeze(0))
        model = SyncNet_color()
        model.load_state_dict(seeded_state_dict(model.state_dict(), SEED))
        model.eval()
        with torch.no_grad():
            a, v = model(torch.stack(mels), torch.stack(faces))
            cos = torch.nn.functional.cosine_similarity(a[:, None], v[None, :], dim=2)
    return {
        "source": "Rudrabha/Wav2Lip models/syncnet.py, audio.py, hparams.py, "
        "color_syncnet_train.py (librosa 0.7.0's reflect padding)",
        "librosa": librosa.__version__,
        "torch": torch.__version__,
        "clip": CLIP.name,
        "frames": FRAMES,
        "frames_sha256": digest(frames),
        "audio_sha256": digest(samples),
        "face_box": list(FACE_BOX),
        "seed": SEED,
        "mel": _rounded(orig_mel.T),
        "face_window_channel_means": _rounded(torch.stack(faces).mean(dim=(2, 3)).numpy()),
        "audio_embeddings": _rounded(a.numpy()),
        "face_embeddings": _rounded(v.numpy()),
        "cosine_audio_by_face": _rounded(cos.numpy()),
    }


DESYNC_CLIP = CLIP.parent / "film_phonecall_input3.mp4"  # 600x480: resized and centre-cropped
DESYNC_FRAMES = 24  # two 16-frame segments every 8; 15360 samples: two 10240 every 5120
SAMPLED = 1500  # values compared at fixed positions (the full tensors are megabytes)


def _function_source(path: Path, names: set[str]) -> str:
    """The published definitions called ``names`` in ``path``, as written there."""
    import ast

    text = path.read_text()
    tree = ast.parse(text)
    return "\n\n".join(
        ast.get_source_segment(text, node) or ""
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in names
    )


def record_desync(checkout: Path) -> dict:  # type: ignore[type-arg]
    """av-benchmark's Synchformer inputs (``VideoDataset.sync_transform``, ``encode_video_with
    _sync``, ``encode_audio_with_sync`` with ``pad_or_truncate``), run as published with a
    stand-in for the network that returns its input: the modules around them import ImageBind,
    CLAP and more, so the definitions are executed from their source instead of imported."""
    import einops
    import torch
    import torchaudio
    from torchvision.transforms import v2

    from syncnet_eval.decode import iter_frames, read_audio

    frames = np.concatenate(list(iter_frames(DESYNC_CLIP, jpeg_roundtrip=False)))
    frames = frames[:DESYNC_FRAMES]
    samples = read_audio(DESYNC_CLIP)[: DESYNC_FRAMES * 640]
    space: dict = {  # type: ignore[type-arg]
        "torch": torch,
        "torchaudio": torchaudio,
        "v2": v2,
        "rearrange": einops.rearrange,
        "log": __import__("logging").getLogger("av-benchmark"),
        "Dataset": object,
        "SpatialCrop": lambda *a, **k: None,
        "Path": Path,
        "Synchformer": object,
    }
    bench = checkout / "av_bench"
    exec(_function_source(bench / "data" / "audio_dataset.py", {"pad_or_truncate"}), space)
    exec(_function_source(bench / "extract.py", {"encode_audio_with_sync"}), space)
    exec(_function_source(checkout / "extract_video.py", {"encode_video_with_sync"}), space)
    video_dataset = (bench / "data" / "video_dataset.py").read_text()
    for line in video_dataset.splitlines():  # the module's constants (_SYNC_SIZE, ...)
        if line.startswith("_") and " = " in line:
            exec(line, space)
    exec(_function_source(bench / "data" / "video_dataset.py", {"VideoDataset"}), space)

    class Identity:  # stands in for the network: its "features" are its inputs
        def extract_vfeats(self, x: torch.Tensor) -> torch.Tensor:
            return einops.rearrange(x, "bs 1 t c h w -> bs 1 t (c h w)")

        def extract_afeats(self, x: torch.Tensor) -> torch.Tensor:
            return x

    # extraction_models.py's sync_mel_spectrogram, as published:
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=16000, win_length=400, hop_length=160, n_fft=1024, n_mels=128
    )
    dataset = space["VideoDataset"]([])
    rgb = torch.from_numpy(np.ascontiguousarray(frames[..., ::-1])).permute(0, 3, 1, 2)
    video = dataset.sync_transform(rgb)  # (T, 3, 224, 224)
    vseg = space["encode_video_with_sync"](Identity(), video[None])[0]  # (S, 16, 3*224*224)
    vseg = vseg.reshape(vseg.shape[0], vseg.shape[1], 3, 224, 224)
    wav = torch.from_numpy(samples.astype(np.float32) / 32768.0)[None]
    aseg = space["encode_audio_with_sync"](Identity(), wav, mel)[0]  # (S, 1, 128, 66)
    rng = np.random.default_rng(0)
    vidx = [rng.integers(0, n, SAMPLED).tolist() for n in vseg.shape]
    aidx = [rng.integers(0, n, SAMPLED).tolist() for n in aseg.shape]
    return {
        "source": "hkchengrex/av-benchmark av_bench/data/video_dataset.py (sync_transform), "
        "extract_video.py (encode_video_with_sync), av_bench/extract.py "
        "(encode_audio_with_sync), av_bench/data/audio_dataset.py (pad_or_truncate), "
        "av_bench/extraction_models.py (sync_mel_spectrogram)",
        "torch": torch.__version__,
        "torchaudio": torchaudio.__version__,
        "clip": DESYNC_CLIP.name,
        "frames": DESYNC_FRAMES,
        "frames_sha256": digest(frames),
        "audio_sha256": digest(samples),
        "video_shape": list(vseg.shape),
        "audio_shape": list(aseg.shape),
        "video_frame_channel_means": _rounded(video.mean(dim=(2, 3)).numpy()),
        "audio_band_means": _rounded(aseg.mean(dim=-1).reshape(len(aseg), -1).numpy()),
        "video_index": vidx,
        "video_values": _rounded(vseg.numpy()[tuple(vidx)]),
        "audio_index": aidx,
        "audio_values": _rounded(aseg.numpy()[tuple(aidx)]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("expert", choices=["wav2lip", "desync"])
    parser.add_argument("--checkout", type=Path, required=True, help="the published code")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    recorders = {"wav2lip": record_wav2lip, "desync": record_desync}
    record = recorders[args.expert](args.checkout.resolve())
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"{args.out}: {args.out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
