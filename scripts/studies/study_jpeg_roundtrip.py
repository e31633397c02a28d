"""Study: which parts of the reference's JPEG round trip / audio extraction need the ffmpeg CLI.

Compares, per media file (REFERENCE_PIPELINE.md 1.1, quirk 2, open question 2):
  Q1  JPEG bytes of `ffmpeg ... -f image2 DIR/%06d.jpg` vs `-f image2pipe -c:v mjpeg pipe:1`;
  Q2  PyAV (bundled libav*) decode + yuvj420p conversion (frame.reformat, filter graph, or a numpy
      copy of ffmpeg 5.1's swscale range conversion) + PyAV mjpeg encode vs the CLI bytes/pixels;
  Q3  decoders of the CLI JPEGs: PIL and PyAV's mjpeg decoder vs cv2.imdecode (BGR);
  Q4  16 kHz mono s16 audio: PyAV AudioResampler / aresample graph vs the CLI with -async 1.
Prints a markdown table (rows = measurements, columns = files). Scratch files go to a temp dir.

    python scripts/studies/study_jpeg_roundtrip.py VIDEO [VIDEO ...] [--ffmpeg /usr/bin/ffmpeg]
"""

from __future__ import annotations

import argparse
from fractions import Fraction
import io
from pathlib import Path
import subprocess
import tempfile

import av
import cv2
import numpy as np


def split_jpegs(buf: bytes) -> list[bytes]:
    """Split concatenated baseline JPEGs by walking markers (FF00/RSTn stuffing aware)."""
    out, p, n = [], 0, len(buf)
    while p < n:
        if buf[p : p + 2] != b"\xff\xd8":
            raise ValueError(f"no SOI at {p}")
        q = p + 2
        while True:
            m = buf[q + 1]
            if m == 0xD9:
                q += 2
                break
            q += 2 + int.from_bytes(buf[q + 2 : q + 4], "big")
            if m == 0xDA:  # entropy-coded data until a real marker
                while True:
                    q = buf.index(b"\xff", q)
                    if buf[q + 1] == 0 or 0xD0 <= buf[q + 1] <= 0xD7:
                        q += 2
                    else:
                        break
        out.append(buf[p:q])
        p = q
    return out


def strip_com(j: bytes) -> bytes:
    """Drop COM (FFFE) segments in the header, e.g. the 'Lavc59.37.100' encoder tag."""
    out, q = [j[:2]], 2
    while True:
        m, ln = j[q + 1], int.from_bytes(j[q + 2 : q + 4], "big")
        if m == 0xDA:
            out.append(j[q:])
            return b"".join(out)
        if m != 0xFE:
            out.append(j[q : q + 2 + ln])
        q += 2 + ln


Q = ["-nostdin", "-loglevel", "error"]


def run(cmd: list[str]) -> bytes:
    return subprocess.run(cmd, capture_output=True, check=True).stdout


def cli_image2(ff: str, path: str, tmp: Path) -> list[bytes]:
    d = tmp / (Path(path).stem + "_jpg")
    d.mkdir()
    run([ff, *Q, "-y", "-i", path, *["-threads", "1", "-f", "image2"], str(d / "%06d.jpg")])
    return [f.read_bytes() for f in sorted(d.glob("*.jpg"))]


def cli_pipe(ff: str, path: str) -> list[bytes]:
    args = ["-threads", "1", "-f", "image2pipe", "-c:v", "mjpeg", "pipe:1"]
    return split_jpegs(run([ff, *Q, "-i", path, *args]))


def drain(graph: av.filter.Graph) -> list:
    out = []
    while True:
        try:
            out.append(graph.pull())
        except (av.BlockingIOError, av.EOFError):
            return out


def range51(f: av.VideoFrame) -> av.VideoFrame:
    """ffmpeg 5.1 swscale yuv420p->yuvj420p in numpy: 15-bit lum/chrRangeToJpeg, (v+64)>>7."""
    a, h = f.to_ndarray().astype(np.int64) << 7, f.height
    y = (np.minimum(a[:h], 30189) * 19077 - 39057361) >> 14
    c = (np.minimum(a[h:], 30775) * 4663 - 9289992) >> 12
    out = np.clip((np.concatenate([y, c]) + 64) >> 7, 0, 255).astype(np.uint8)
    return av.VideoFrame.from_ndarray(out, format="yuvj420p")


def pyav_jpegs(path: str, mode: str) -> list[bytes]:
    """Decode with PyAV, convert to yuvj420p (reformat, filter graph, numpy), encode mjpeg."""
    out = []
    with av.open(path) as c:
        vs = c.streams.video[0]
        fps = vs.guessed_rate or vs.average_rate or Fraction(25)
        enc = av.CodecContext.create("mjpeg", "w")
        enc.width, enc.height = vs.codec_context.width, vs.codec_context.height
        enc.pix_fmt = "yuvj420p"
        enc.time_base, enc.framerate = 1 / Fraction(fps), Fraction(fps)
        enc.bit_rate = 200000
        enc.thread_count = 1
        enc.color_range = 2  # AVCOL_RANGE_JPEG, as the CLI's yuvj420p(pc)
        graph = None
        if mode == "graph":  # like the CLI: format filter forces an auto-inserted scale
            graph = av.filter.Graph()
            fmt = graph.add("format", "pix_fmts=yuvj420p")
            graph.link_nodes(
                graph.add_buffer(template=vs), fmt, graph.add("buffersink")
            ).configure()
        i = 0
        for f in c.decode(vs):
            if mode == "numpy51":
                gs = [range51(f)]
            elif graph is None:
                gs = [f.reformat(format="yuvj420p")]
            else:
                graph.push(f)
                gs = drain(graph)
            for g in gs:
                g.pts, g.time_base, g.pict_type = i, enc.time_base, 0
                i += 1
                out += [bytes(p) for p in enc.encode(g)]
        out += [bytes(p) for p in enc.encode(None)]
    return out


def dec_cv2(j: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR)


def dec_pil(j: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(j)).convert("RGB"))[:, :, ::-1]


def dec_pyav(j: bytes) -> np.ndarray:
    ctx = av.CodecContext.create("mjpeg", "r")
    frames = ctx.decode(av.Packet(j)) + ctx.decode(None)
    return frames[0].to_ndarray(format="bgr24")


def pix_stats(a: list[np.ndarray], b: list[np.ndarray]) -> str:
    n = min(len(a), len(b))
    if n == 0:
        return "n/a"
    d = [np.abs(x.astype(np.int16) - y.astype(np.int16)) for x, y in zip(a[:n], b[:n], strict=True)]
    same = sum(int(x.max() == 0) for x in d)
    worst = max(int(x.max()) for x in d)
    return f"same {same}/{n}, max {worst}, mean {np.mean([x.mean() for x in d]):.3f}"


def frac(a: list[bytes], b: list[bytes]) -> str:
    n = min(len(a), len(b))
    return f"{sum(x == y for x, y in zip(a, b, strict=False))}/{n}" + (
        "" if len(a) == len(b) else " (len differs)"
    )


def cli_audio(ff: str, path: str) -> np.ndarray:
    args = "-async 1 -ac 1 -vn -acodec pcm_s16le -ar 16000 -f s16le pipe:1".split()  # noqa: SIM905
    return np.frombuffer(run([ff, *Q, "-i", path, *args]), np.int16)


def pyav_audio(path: str, mode: str) -> np.ndarray:
    chunks = []
    with av.open(path) as c:
        st = c.streams.audio[0]
        sr = st.codec_context.sample_rate
        if mode == "resampler":
            rs = av.AudioResampler(format="s16", layout="mono", rate=16000)
            for f in c.decode(st):
                chunks += [x.to_ndarray().reshape(-1) for x in rs.resample(f)]
            chunks += [x.to_ndarray().reshape(-1) for x in rs.resample(None)]
        else:  # the CLI's graph: aresample=async=1:min_hard_comp=0.1:first_pts=0 + output format
            graph = av.filter.Graph()
            src = graph.add_abuffer(
                format=st.codec_context.format.name,
                sample_rate=sr,
                layout=st.codec_context.layout.name,
                time_base=Fraction(1, sr),
            )
            ars = graph.add("aresample", "async=1:min_hard_comp=0.1:first_pts=0")
            fmt = graph.add("aformat", "sample_fmts=s16:channel_layouts=mono:sample_rates=16000")
            graph.link_nodes(src, ars, fmt, graph.add("abuffersink")).configure()
            for f in c.decode(st):
                if f.pts is not None:
                    f.pts = round(f.pts * f.time_base * sr)
                f.time_base = Fraction(1, sr)
                graph.push(f)
                chunks += [x.to_ndarray().reshape(-1) for x in drain(graph)]
            graph.push(None)
            chunks += [x.to_ndarray().reshape(-1) for x in drain(graph)]
    return np.concatenate(chunks).astype(np.int16) if chunks else np.zeros(0, np.int16)


def native_audio_diff(ff: str, path: str) -> str:
    """Decoder alone: PyAV vs CLI at the native rate/layout (interleaved f32 or s16)."""
    with av.open(path) as c:
        st = c.streams.audio[0]
        fr = [f.to_ndarray() for f in c.decode(st)]
    planar = st.codec_context.format.is_planar
    py = np.concatenate([f.T.reshape(-1) if planar else f.reshape(-1) for f in fr])
    flt = py.dtype.kind == "f"
    fmt = "f32le" if flt else "s16le"
    cli = np.frombuffer(run([ff, *Q, "-i", path, "-vn", "-f", fmt, "pipe:1"]), py.dtype)
    n = min(len(cli), len(py))
    worst = np.abs(cli[:n].astype(np.float64) - py[:n]).max()
    return f"Δn {len(py) - len(cli):+d}, max abs {worst:.3g}"


def audio_stats(ref: np.ndarray, x: np.ndarray) -> str:
    n = min(len(ref), len(x))
    dd = np.abs(ref[:n].astype(np.int32) - x[:n])
    d = int(dd.max()) if n else 0
    return f"Δn {len(x) - len(ref):+d}, max abs {d}, {np.count_nonzero(dd)} samples differ" + (
        " (identical)" if d == 0 and len(x) == len(ref) else ""
    )


def study(ff: str, path: str, tmp: Path) -> dict[str, str]:
    r: dict[str, str] = {}
    img = cli_image2(ff, path, tmp)
    pipe = cli_pipe(ff, path)
    r["frames: CLI image2 / image2pipe"] = f"{len(img)} / {len(pipe)}"
    r["Q1 image2pipe bytes == image2 bytes"] = frac(pipe, img)
    ref = [dec_cv2(j) for j in img]
    for mode in ("reformat", "graph", "numpy51"):
        try:
            pj = pyav_jpegs(path, mode)
        except Exception as exc:  # noqa: BLE001 - report, keep going
            r[f"Q2 PyAV {mode}: error"] = repr(exc)[:80]
            continue
        r[f"Q2 PyAV {mode}: bytes identical"] = frac(pj, img)
        r[f"Q2 PyAV {mode}: identical w/o COM"] = frac(
            [strip_com(j) for j in pj], [strip_com(j) for j in img]
        )
        r[f"Q2 PyAV {mode}: pixels vs CLI (cv2)"] = pix_stats([dec_cv2(j) for j in pj], ref)
    r["Q3 PIL vs cv2 (CLI JPEGs)"] = pix_stats([dec_pil(j) for j in img], ref)
    r["Q3 PyAV mjpeg+bgr24 vs cv2"] = pix_stats([dec_pyav(j) for j in img], ref)
    try:
        aref = cli_audio(ff, path)
    except subprocess.CalledProcessError:
        aref = None
    if aref is None or aref.size == 0:
        r["Q4 audio"] = "no audio"
        return r
    r["Q4 CLI samples (16k mono)"] = str(len(aref))
    r["Q4 native decode PyAV vs CLI"] = native_audio_diff(ff, path)
    for mode in ("resampler", "graph"):
        try:
            r[f"Q4 PyAV {mode} vs CLI"] = audio_stats(aref, pyav_audio(path, mode))
        except Exception as exc:  # noqa: BLE001
            r[f"Q4 PyAV {mode} vs CLI"] = "error " + repr(exc)[:80]
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("media", nargs="+")
    ap.add_argument("--ffmpeg", default="ffmpeg", help="ffmpeg CLI to compare against")
    a = ap.parse_args()
    ver = run([a.ffmpeg, "-version"]).decode().splitlines()[0]
    print(
        f"CLI: {ver}; PyAV {av.__version__} (libavcodec "
        f"{'.'.join(map(str, av.library_versions['libavcodec']))}); cv2 {cv2.__version__}\n"
    )
    with tempfile.TemporaryDirectory(prefix="jpegstudy_") as t:
        res = {Path(m).name: study(a.ffmpeg, m, Path(t)) for m in a.media}
    rows = list(dict.fromkeys(k for r in res.values() for k in r))
    print("| measurement | " + " | ".join(res) + " |")
    print("|---|" + "---|" * len(res))
    for k in rows:
        print(f"| {k} | " + " | ".join(r.get(k, "") for r in res.values()) + " |")


if __name__ == "__main__":
    main()
