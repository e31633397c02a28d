#!/usr/bin/env python3
"""End to end against the reference, with faces found: wall and CPU seconds, alternating.

    python scripts/bench_e2e_hog.py --ref-python /work/venv-e2e/bin/python --rounds 2

The reference is joonson/syncnet_python (commit 6efbb1c), taken from a local snapshot of its git
repository (``--ref-repo``; ``git archive`` into a temporary directory, never into this
project) and patched there, as the goldens of ``../shared/reference`` were made:

- CPU: every ``.cuda()`` call is dropped.
- Detector: the parity-test S3FD weights find no faces, so ``run_pipeline.py`` gets dlib's HOG
  frontal face detector in place of S3FD, exactly as ``../shared/reference/README.md``
  describes (dlib ``run(image, 0, 0.0)`` on the RGB frame, or on a 0.5x INTER_AREA copy for
  frames wider than 1000 px, boxes scaled back; every box kept). The stand-in module is written
  by this script; importing it also makes ``cv2.split`` return a list, which scenedetect 0.5.1
  needs under OpenCV 4.x (it assigns into the result; values unchanged).
- Its final print gets 8 decimals instead of 3, so the numbers can be compared (no effect on
  timing).

Both sides use the parity-test weights of ``../shared/weights/test/``. Pairs, in turn, round
after round (so a load that comes and goes hits both alike):

- full pipeline: reference ``run_pipeline.py`` + ``run_syncnet.py`` vs ``syncnet-eval score
  --recipe syncnet-pipeline --detector hog``;
- direct: reference ``demo_syncnet.py`` vs ``syncnet-eval score --recipe direct``.

Each side runs as a fresh process (start-up, model load, ffmpeg and file I/O included). Wall
seconds and CPU seconds (user + system of the process and everything it waited for, ffmpeg
included) per run; medians and ratios (reference / ours) of this run; the largest deviation of
offset, LSE-D and LSE-C between the two sides (goal 1e-4). The reference needs its own
environment (``--ref-python``: torch, opencv, scipy, scenedetect 0.5.1, python_speech_features,
dlib), e.g. ``python3 -m venv /work/venv-e2e && /work/venv-e2e/bin/pip install torch==2.13.0
numpy==1.23.5 scipy==1.10.1 opencv-python==4.8.1.78 scenedetect==0.5.1 python_speech_features
dlib-bin`` (the goldens' versions); ours is the interpreter running this script.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
MEDIA = SHARED / "media"
SYNCNET_W = SHARED / "weights/test/syncnet_parity_test.model"
DEFAULT_REF_REPO = Path("/work/.mirror/joonson+syncnet_python/repo")
PIPELINE_CLIPS = ("syncnet_example.avi", "hdtf_WDA_KatieHill_000.mp4")
DIRECT_CLIPS = ("syncnet_example.avi", "lrs3_C8zY0oAdQrs_00018_strictcrop224.mp4")

# The stand-in for the reference's S3FD class (same constructor and detect_faces signature).
_HOG_STANDIN = '''
import cv2
import dlib
import numpy as np

# scenedetect 0.5.1 assigns into the result of cv2.split, a tuple in OpenCV 4.x: give it a list
# (values unchanged).
_split = cv2.split
cv2.split = lambda *args: list(_split(*args))


class S3FD:
    """dlib HOG in place of S3FD, as ../shared/reference/README.md describes."""

    def __init__(self, device="cpu"):
        self.detector = dlib.get_frontal_face_detector()

    def detect_faces(self, image, conf_th=0.8, scales=(1,)):
        scale_back = 1.0
        if image.shape[1] > 1000:
            image = cv2.resize(image, (0, 0), fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
            scale_back = 2.0
        rects, scores, _ = self.detector.run(np.ascontiguousarray(image), 0, 0.0)
        boxes = [
            [r.left() * scale_back, r.top() * scale_back, r.right() * scale_back,
             r.bottom() * scale_back, s]
            for r, s in zip(rects, scores)
        ]
        return np.array(boxes, dtype=np.float64).reshape(-1, 5)
'''

_RESULT_RE = re.compile(
    r"AV offset:\s*(-?\d+)\s*\nMin dist:\s*([-\d.]+)\s*\nConfidence:\s*([-\d.]+)"
)


def _patch(path: Path, old: str, new: str, *, count: int | None = None) -> None:
    text = path.read_text()
    found = text.count(old)
    if found == 0 or (count is not None and found != count):
        raise SystemExit(f"{path.name}: expected {count or 'some'} '{old}', found {found}")
    path.write_text(text.replace(old, new))


def build_reference(repo: Path, dest: Path) -> Path:
    """The reference at ``repo``'s HEAD, exported to ``dest`` and patched for CPU + HOG."""
    dest.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", "HEAD"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    _patch(dest / "SyncNetInstance.py", ".cuda()", "")
    _patch(
        dest / "SyncNetInstance.py",
        "Min dist: \\t%.3f\\nConfidence: \\t%.3f",
        ("Min dist: \\t%.8f\\nConfidence: \\t%.8f"),
        count=1,
    )
    _patch(dest / "run_pipeline.py", "from detectors import S3FD", "from hog_standin import S3FD")
    (dest / "hog_standin.py").write_text(_HOG_STANDIN)
    return dest


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``cmd``; wall seconds, CPU seconds of it and its children, stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def _ref_values(stdout: str) -> list[tuple[int, float, float]]:
    return [(int(o), float(d), float(c)) for o, d, c in _RESULT_RE.findall(stdout)]


def run_reference(
    ref_dir: Path, python: str, clip: Path, recipe: str, work: Path
) -> tuple[float, float, list[tuple[int, float, float]]]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    data = work / "ref"
    if recipe == "direct":
        wall, cpu, out = _timed(
            [
                python,
                "demo_syncnet.py",
                "--initial_model",
                str(SYNCNET_W),
                "--videofile",
                str(clip),
                "--tmp_dir",
                str(data / "pytmp"),
                "--reference",
                "bench",
            ],
            ref_dir,
            env,
        )
    else:
        w1, c1, _ = _timed(
            [
                python,
                "run_pipeline.py",
                "--videofile",
                str(clip),
                "--reference",
                "bench",
                "--data_dir",
                str(data),
            ],
            ref_dir,
            env,
        )
        w2, c2, out = _timed(
            [
                python,
                "run_syncnet.py",
                "--initial_model",
                str(SYNCNET_W),
                "--videofile",
                str(clip),
                "--reference",
                "bench",
                "--data_dir",
                str(data),
            ],
            ref_dir,
            env,
        )
        wall, cpu = w1 + w2, c1 + c2
    shutil.rmtree(data, ignore_errors=True)
    return wall, cpu, _ref_values(out)


def run_ours(clip: Path, recipe: str) -> tuple[float, float, list[tuple[int, float, float]]]:
    cmd = [
        sys.executable,
        "-m",
        "syncnet_eval",
        "score",
        "-q",
        "--offline",
        "--recipe",
        recipe,
        "--syncnet-weights",
        str(SYNCNET_W),
        "-o",
        "-",
        str(clip),
    ]
    if recipe == "syncnet-pipeline":
        cmd[4:4] = ["--detector", "hog"]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    wall, cpu, out = _timed(cmd, ROOT, env)
    record = json.loads(out)["results"][0]
    tracks = [(int(t["av_offset"]), float(t["lse_d"]), float(t["lse_c"])) for t in record["tracks"]]
    return wall, cpu, tracks


def cpu_description() -> str:
    model, flags = "?", set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name") and model == "?":
            model = line.split(":", 1)[1].strip()
        elif line.startswith("flags") and not flags:
            flags = set(line.split(":", 1)[1].split())
    shown = sorted(f for f in flags if f.startswith(("amx", "avx512_bf16", "avx512f", "avx2")))
    amx = "AMX yes" if {"amx_bf16", "amx_tile"} <= flags else "AMX NO"
    return f"{model}, {os.cpu_count()} cores, {amx} (flags: {' '.join(shown) or 'none'})"


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--ref-python", required=True, help="python of the reference's environment")
    ap.add_argument(
        "--ref-repo",
        type=Path,
        default=DEFAULT_REF_REPO,
        help="git directory of a joonson/syncnet_python snapshot",
    )
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--only", choices=("pipeline", "direct"), default=None)
    args = ap.parse_args()

    print(f"CPU: {cpu_description()}")
    print(f"load average at start: {_load()}")
    pairs = []
    if args.only in (None, "pipeline"):
        pairs += [("syncnet-pipeline", c) for c in PIPELINE_CLIPS]
    if args.only in (None, "direct"):
        pairs += [("direct", c) for c in DIRECT_CLIPS]
    times: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    worst = 0.0
    offsets_differ = 0
    with tempfile.TemporaryDirectory(prefix="bench_e2e_") as tmp:
        ref_dir = build_reference(args.ref_repo, Path(tmp) / "syncnet_python")
        work = Path(tmp) / "work"
        for rnd in range(args.rounds):
            for recipe, name in pairs:
                clip = MEDIA / name
                # Alternate which side goes first from round to round.
                sides = ("reference", "ours") if rnd % 2 == 0 else ("ours", "reference")
                values = {}
                for side in sides:
                    if side == "reference":
                        wall, cpu, vals = run_reference(
                            ref_dir, args.ref_python, clip, recipe, work
                        )
                    else:
                        wall, cpu, vals = run_ours(clip, recipe)
                    times.setdefault((recipe, name, side), []).append((wall, cpu))
                    values[side] = vals
                    print(
                        f"round {rnd + 1} {recipe:16s} {name:42s} {side:9s} "
                        f"wall {wall:7.2f} s  cpu {cpu:7.2f} s  tracks {vals}  "
                        f"load {_load()}",
                        flush=True,
                    )
                ref_v, our_v = values["reference"], values["ours"]
                if len(ref_v) != len(our_v) or not ref_v:
                    raise SystemExit(f"{name}: track counts differ or are zero: {ref_v} vs {our_v}")
                for (ro, rd, rc), (oo, od, oc) in zip(ref_v, our_v, strict=True):
                    offsets_differ += ro != oo
                    worst = max(worst, abs(rd - od), abs(rc - oc))
    print()
    print(
        "| recipe | clip | reference wall s | ours wall s | wall ratio | reference CPU s "
        "| ours CPU s | CPU ratio |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for recipe, name in pairs:
        ref = times[(recipe, name, "reference")]
        our = times[(recipe, name, "ours")]
        rw, rc = (statistics.median(t[i] for t in ref) for i in (0, 1))
        ow, oc = (statistics.median(t[i] for t in our) for i in (0, 1))
        print(
            f"| {recipe} | {name} | {rw:.2f} | {ow:.2f} | {rw / ow:.2f}x | {rc:.2f} | "
            f"{oc:.2f} | {rc / oc:.2f}x |"
        )
    print()
    print(f"medians of {args.rounds} round(s); load average at end: {_load()}")
    print(
        f"largest |dLSE-D| / |dLSE-C| between the sides: {worst:.2e} "
        f"({'within' if worst <= 1e-4 else 'OVER'} 1e-4); offsets that differ: {offsets_differ}"
    )


if __name__ == "__main__":
    main()
