#!/usr/bin/env python3
"""Study: can the ffmpeg CLI reproduce OpenCV 4.8.1's XVID VideoWriter bit for bit?

The reference's crop_video writes each face track with
``cv2.VideoWriter(path, VideoWriter_fourcc(*'XVID'), 25, (224, 224))`` under OpenCV 4.8.1
(opencv-python wheel bundling FFmpeg 5.1.x libs). This script feeds the same 224x224 BGR frames to

* OpenCV 4.8.1's writer (via ``--cv481-python``: a venv with opencv-python-headless==4.8.1.78),
* the current interpreter's OpenCV writer (e.g. 5.0, bundling FFmpeg 8),
* several ffmpeg CLI mpeg4 encodes (``--ffmpeg``, e.g. Debian's 5.1.9),

decodes every AVI with ``ffmpeg -f rawvideo -pix_fmt bgr24`` and compares with OpenCV 4.8.1's output
(per-packet md5 identity via ``-c copy -f framemd5``, and decoded pixels). It also isolates the
BGR->YUV420P conversion by writing fourcc I420 (rawvideo, OpenCV converts with swscale SWS_BICUBIC)
and re-encoding those planes with the CLI.

Usage: python scripts/studies/study_xvid_writer.py --cv481-python /tmp/cv481/bin/python
Internal: --write RAW OUT FOURCC writes RAW (n*224*224*3 bgr24 bytes) with this interpreter's cv2.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import re
import subprocess
import sys
import tempfile

import numpy as np

SIZE = 224
FPS = 25
# Derived from OpenCV 4.x cap_ffmpeg_impl.hpp: bitrate = fps*w*h; the stream setup adds bitrate/2
# and open() adds bitrate/2 again (also to bit_rate_tolerance); qmin 3; gop 12; no B-frames; threads
# left at libavcodec's default 1; conversion via sws_getContext(BGR24->YUV420P, SWS_BICUBIC).
OCV_BITRATE = str(2 * FPS * SIZE * SIZE)  # 2508800
CLI_BASE = ["-c:v", "mpeg4", "-vtag", "XVID", "-pix_fmt", "yuv420p"]
CLI_VARIANTS: dict[str, list[str]] = {
    "cli: b=bt=2508800 qmin3 g12 threads1": [
        "-b:v",
        OCV_BITRATE,
        "-bt",
        OCV_BITRATE,
        "-qmin",
        "3",
        "-g",
        "12",
        "-threads",
        "1",
    ],
    "cli: b=bt=1881600 qmin3 g12 threads1": [
        "-b:v",
        "1881600",
        "-bt",
        "1881600",
        "-qmin",
        "3",
        "-g",
        "12",
        "-threads",
        "1",
    ],
    "cli: b=2508800 (default bt) qmin3 g12 threads1": [
        "-b:v",
        OCV_BITRATE,
        "-qmin",
        "3",
        "-g",
        "12",
        "-threads",
        "1",
    ],
    "cli: -q:v 3 g12 threads1": ["-q:v", "3", "-g", "12", "-threads", "1"],
    "cli: b=bt=2508800 qmin3 g12, threads auto": [
        "-b:v",
        OCV_BITRATE,
        "-bt",
        OCV_BITRATE,
        "-qmin",
        "3",
        "-g",
        "12",
    ],
    "cli: same, threads1 but filter_threads 16": [
        "-b:v",
        OCV_BITRATE,
        "-bt",
        OCV_BITRATE,
        "-qmin",
        "3",
        "-g",
        "12",
        "-threads",
        "1",
        "-filter_threads",
        "16",
    ],
    "cli: defaults (-c:v mpeg4 -vtag XVID)": [],
}


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


def write_with_cv2(raw: str, out: str, fourcc: str) -> None:
    import cv2

    frames = np.fromfile(raw, np.uint8).reshape(-1, SIZE, SIZE, 3)
    w = cv2.VideoWriter(out, cv2.VideoWriter_fourcc(*fourcc), FPS, (SIZE, SIZE))
    if not w.isOpened():
        sys.exit(f"cv2 {cv2.__version__}: could not open writer for {out}")
    for f in frames:
        w.write(np.ascontiguousarray(f))
    w.release()


def cv2_info(python: str) -> str:
    code = (
        "import cv2,re;b=cv2.getBuildInformation();"
        "v=re.search(r'avcodec:\\s+YES \\(([^)]*)\\)',b);"
        "s=re.search(r'swscale:\\s+YES \\(([^)]*)\\)',b);"
        "print(cv2.__version__,'avcodec',v and v.group(1),"
        "'swscale',s and s.group(1))"
    )
    return run([python, "-c", code], text=True).stdout.strip()


def load_input(ffmpeg: str, src: str, frames: int, dest: Path) -> Path:
    if src == "noise":  # incompressible frames: makes the rate control bind
        rng = np.random.default_rng(0)
        rng.integers(0, 256, (frames, SIZE, SIZE, 3), dtype=np.uint8).tofile(dest)
        return dest
    run(
        [
            ffmpeg,
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-i",
            src,
            "-frames:v",
            str(frames),
            "-vf",
            f"scale={SIZE}:{SIZE}",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "bgr24",
            str(dest),
        ]
    )
    return dest


def cli_encode(ffmpeg: str, raw: Path, pix_fmt: str, args: list[str], out: Path) -> None:
    run(
        [
            ffmpeg,
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            pix_fmt,
            "-s",
            f"{SIZE}x{SIZE}",
            "-r",
            str(FPS),
            "-i",
            str(raw),
            *CLI_BASE,
            *args,
            str(out),
        ]
    )


def decode(ffmpeg: str, avi: Path) -> np.ndarray:
    out = run(
        [
            ffmpeg,
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(avi),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "bgr24",
            "-",
        ]
    ).stdout
    return np.frombuffer(out, np.uint8).reshape(-1, SIZE, SIZE, 3)


def packet_md5s(ffmpeg: str, avi: Path) -> list[str]:
    out = run(
        [
            ffmpeg,
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(avi),
            "-map",
            "0:v",
            "-c",
            "copy",
            "-f",
            "framemd5",
            "-",
        ],
        text=True,
    ).stdout
    return [ln.rsplit(",", 1)[1].strip() for ln in out.splitlines() if ln and ln[0] != "#"]


def i420_planes(ffmpeg: str, avi: Path) -> Path:
    dest = avi.with_suffix(".yuv")
    run(
        [
            ffmpeg,
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-i",
            str(avi),
            "-c",
            "copy",
            "-f",
            "rawvideo",
            str(dest),
        ]
    )
    return dest


def stream_summary(ffprobe: str, ffmpeg: str, avi: Path) -> str:
    s = run(
        [
            ffprobe,
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_entries",
            "stream=codec_name,codec_tag_string,pix_fmt,time_base,bit_rate,has_b_frames",
            "-of",
            "default=nw=1",
            str(avi),
        ],
        text=True,
    ).stdout.split()
    types = run(
        [
            ffprobe,
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_entries",
            "frame=pict_type",
            "-of",
            "csv=p=0",
            str(avi),
        ],
        text=True,
    ).stdout.split()
    keys = [i for i, t in enumerate(types) if t.startswith("I")]
    log = subprocess.run(
        [ffmpeg, "-nostdin", "-threads", "1", "-debug", "qp", "-i", str(avi), "-f", "null", "-"],
        capture_output=True,
        text=True,
    ).stderr
    qs: dict[str, list[float]] = {"I": [], "P": [], "B": []}
    cur: list[int] | None = None
    kind = "P"
    for ln in log.splitlines() + ["New frame, type: END"]:
        m = re.search(r"New frame, type: (\w+)", ln)
        if m:
            if cur:
                qs.setdefault(kind, []).append(float(np.mean(cur)))
            kind, cur = m.group(1), []
        elif cur is not None and re.search(r"\]\s+(\d+\s+)+\d+\s*$", ln):
            cur += [int(x) for x in ln.split("]", 1)[1].split()]
    q = ", ".join(
        f"{k} q {min(v):.2f}-{max(v):.2f} (mean {np.mean(v):.2f})" for k, v in qs.items() if v
    )
    return f"{' '.join(s)}; {len(types)} frames, I at {keys[:6]}...; {q}"


def compare(ref: np.ndarray, ref_pk: list[str], dec: np.ndarray, pk: list[str]) -> str:
    same_pk = sum(a == b for a, b in zip(ref_pk, pk, strict=True)) if len(pk) == len(ref_pk) else 0
    if dec.shape != ref.shape:
        return f"| {same_pk}/{len(ref_pk)} | shape {dec.shape} | | |"
    d = np.abs(ref.astype(np.int16) - dec.astype(np.int16))
    same_fr = int((d.reshape(len(d), -1).max(1) == 0).sum())
    return f"| {same_pk}/{len(ref_pk)} | {same_fr}/{len(d)} | {d.max()} | {d.mean():.4f} |"


def study(args: argparse.Namespace, src: str, tmp: Path) -> list[str]:
    ff, stem = args.ffmpeg, Path(src).stem
    raw = load_input(ff, src, args.frames, tmp / f"{stem}.bgr")
    outs: dict[str, Path] = {}

    def cv_write(label: str, python: str, fourcc: str) -> Path:
        out = tmp / f"{stem}.{len(outs)}.avi"
        run([python, __file__, "--write", str(raw), str(out), fourcc])
        outs[label] = out
        return out

    ref = cv_write("opencv 4.8.1 XVID (reference)", args.cv481_python, "XVID")
    cv_write(f"opencv {args.cur_version} XVID", sys.executable, "XVID")
    for label, extra in CLI_VARIANTS.items():
        outs[label] = tmp / f"{stem}.{len(outs)}.avi"
        cli_encode(ff, raw, "bgr24", extra, outs[label])
    # conversion isolation: each OpenCV's own BGR->YUV420P planes, encoded by the CLI
    best = CLI_VARIANTS["cli: b=bt=2508800 qmin3 g12 threads1"]
    for name, python in (("4.8.1", args.cv481_python), (args.cur_version, sys.executable)):
        yuv = i420_planes(ff, cv_write(f"_i420 {name}", python, "I420"))
        label = f"opencv {name} I420 planes -> cli best"
        outs[label] = tmp / f"{stem}.{len(outs)}.avi"
        cli_encode(ff, yuv, "yuv420p", best, outs[label])
    ref_dec, ref_pk = decode(ff, ref), packet_md5s(ff, ref)
    rows = [
        f"\n### {src} (first {len(ref_dec)} frames)\n",
        f"OpenCV 4.8.1 output: {stream_summary(args.ffprobe, ff, ref)}\n",
        "| writer | identical packets | identical frames | max abs | mean abs |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, path in outs.items():
        if label.startswith("_"):
            continue
        rows.append(
            f"| {label} " + compare(ref_dec, ref_pk, decode(ff, path), packet_md5s(ff, path))
        )
    # encoder-only check: current OpenCV's XVID file vs its own planes encoded by the CLI
    cur = outs[f"opencv {args.cur_version} XVID"]
    mine = outs[f"opencv {args.cur_version} I420 planes -> cli best"]
    rows.append(
        f"| (vs row 2) opencv {args.cur_version} I420 planes -> cli best "
        + compare(decode(ff, cur), packet_md5s(ff, cur), decode(ff, mine), packet_md5s(ff, mine))
    )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--write", nargs=3, metavar=("RAW", "OUT", "FOURCC"), help=argparse.SUPPRESS)
    p.add_argument(
        "--cv481-python",
        default="/tmp/cv481/bin/python",
        help="python of a venv with opencv-python-headless==4.8.1.78",
    )
    p.add_argument("--ffmpeg", default="/usr/bin/ffmpeg")
    p.add_argument("--ffprobe", default="/usr/bin/ffprobe")
    p.add_argument("--frames", type=int, default=150)
    p.add_argument(
        "--inputs",
        nargs="+",
        default=[
            "/work/shared/media/syncnet_example.avi",
            "/work/shared/media/hallo_gufeng1_libai_224.mp4",
            "noise",
        ],
        help="media files (scaled to 224x224 if needed) or 'noise'",
    )
    args = p.parse_args()
    if args.write:
        write_with_cv2(*args.write)
        return
    cur = cv2_info(sys.executable)
    args.cur_version = cur.split()[0]
    ver = run([args.ffmpeg, "-version"], text=True).stdout.splitlines()[0]
    print("## XVID writer study\n")
    print(f"- reference writer: opencv {cv2_info(args.cv481_python)}")
    print(f"- current writer: opencv {cur}")
    print(
        f"- CLI: {ver}; every CLI row: -f rawvideo -pix_fmt bgr24 -s 224x224 -r 25 -i RAW "
        f"{' '.join(CLI_BASE)} + the row's options"
    )
    print(
        "- comparisons against OpenCV 4.8.1's file; packets via `-c copy -f framemd5` "
        "(packet 0 carries the VOL header with the Lavc version string); pixels via "
        "`ffmpeg -i X.avi -f rawvideo -pix_fmt bgr24 -`"
    )
    with tempfile.TemporaryDirectory(prefix="xvid_study_") as d:
        for src in args.inputs:
            print("\n".join(study(args, src, Path(d))))


if __name__ == "__main__":
    main()
