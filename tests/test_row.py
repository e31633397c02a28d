"""``syncnet-eval row``: the paper's row end to end, with fake models of known output
(``row_helpers``), on constructed pairs of real shared media: a clip against itself, against a
re-encoded copy, and against blurred copies of increasing strength."""

from __future__ import annotations

import csv
import json
from pathlib import Path
import shutil
from typing import Any

import numpy as np
import pytest
import row_helpers as rh

from syncnet_eval.extractors import get_extractor

from conftest import MEDIA_DIR, console_errors, invoke_cli, needs_chromium, open_page

SECONDS = 0.6  # 15 frames at 25 fps: SyncNet's windows and FVD's clips, and fast
BLURS = (0.0, 1.0, 3.0)
SOURCE = "syncnet_example.avi"  # real, 224x224 (PROVENANCE.md): --recipe direct
STARTS = (0.0, 2.0)  # two clips of it, different frames


def _fakes() -> list[str]:
    return [
        "--fid-model",
        rh.FAKES["fid"],
        "--fvd-model",
        rh.FAKES["fvd"],
        "--lpips-model",
        rh.FAKES["lpips"],
        "--csim-model",
        rh.FAKES["csim"],
    ]


def _row(gen: Path, ref: Path, out: Path, *extra: str) -> Any:
    weights = MEDIA_DIR.parent / "weights" / "test" / "syncnet_parity_test.model"
    if not weights.is_file():
        pytest.skip(f"{weights} not found")
    args = ["row", str(gen), str(ref), "--recipe", "direct", "--syncnet-weights"]
    return invoke_cli([*args, str(weights), *_fakes(), "--include-flagged", *extra, "-o", str(out)])


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``real/`` two clips of real video; ``blur0/`` the same clips again (lossless), ``blur1/``
    and ``blur3/`` blurred; each set run through the row (no LMD: dlib is slow) to JSON, CSV."""
    if not (MEDIA_DIR / SOURCE).is_file():
        pytest.skip(f"{MEDIA_DIR / SOURCE} not found")
    root = tmp_path_factory.mktemp("row")
    (root / "real").mkdir()
    for k, start in enumerate(STARTS):
        rh.cut_clip(MEDIA_DIR / SOURCE, root / "real" / f"v{k}.mkv", SECONDS, start=start)
    runs: dict[str, Any] = {"root": root}
    for blur in BLURS:
        tag = f"blur{blur:g}"
        (root / tag).mkdir()
        for k, start in enumerate(STARTS):
            rh.cut_clip(MEDIA_DIR / SOURCE, root / tag / f"v{k}.mkv", SECONDS, blur, start)
        out = root / f"{tag}.json"
        made = _row(root / tag, root / "real", out, "--measures", "lpips,csim,fid,fvd")
        assert made.exit_code == 0, made.output
        runs[tag] = {"json": out, "doc": json.loads(out.read_text()), "output": made.output}
    return runs


def _summary(run: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = run["doc"]["summary"]
    return summary


@pytest.mark.slow  # the pairs fixture scores three sets with SyncNet
def test_a_set_against_itself_is_zero_distance_and_full_similarity(pairs: dict[str, Any]) -> None:
    same = _summary(pairs["blur0"])
    assert same["fid"] == pytest.approx(0.0, abs=1e-8)
    assert same["fvd"] == pytest.approx(0.0, abs=1e-8)
    assert same["lpips"]["mean"] == 0.0
    assert 0.999 < same["csim"]["mean"] <= 1.0  # each frame against the first frame
    assert same["ssim"]["mean"] == pytest.approx(1.0)
    assert same["psnr_db"]["mean"] == 100.0  # lmd's cap: identical frames
    head, cells = pairs["blur0"]["output"].splitlines()[-3:-1]
    assert head.split()[:2] == ["LSE-D", "LSE-C"] and "FID" in head and "FVD" in head
    assert [abs(float(c)) for c in cells.split()[-2:]] == [0.0, 0.0]


@pytest.mark.slow  # the pairs fixture scores three sets with SyncNet
def test_blurring_raises_fid_fvd_lpips_and_lowers_ssim_monotonically(
    pairs: dict[str, Any],
) -> None:
    runs = [_summary(pairs[f"blur{b:g}"]) for b in BLURS]
    for name in ("fid", "fvd"):
        values = [r[name] for r in runs]
        assert values[0] < values[1] < values[2], (name, values)
    for name, rising in (("lpips", True), ("ssim", False), ("csim", False)):
        means = [r[name]["mean"] for r in runs]
        ordered = means if rising else means[::-1]
        assert ordered[0] <= ordered[1] < ordered[2], (name, means)


@pytest.mark.slow  # the pairs fixture scores three sets with SyncNet
def test_the_set_values_equal_a_direct_computation_on_our_own_decode(
    pairs: dict[str, Any],
) -> None:
    root = pairs["root"]
    real = [rh.decode_rgb(root / "real" / f"v{k}.mkv") for k in range(2)]
    gen = [rh.decode_rgb(root / "blur3" / f"v{k}.mkv") for k in range(2)]
    for name, features in (
        ("fid", rh.frame_features),
        ("fvd", lambda v: rh.ClipStats().features(_clips(v))),
    ):
        a = np.concatenate([features(v) for v in gen])
        b = np.concatenate([features(v) for v in real])
        expected = rh.frechet_direct(a.mean(0), np.cov(a.T), b.mean(0), np.cov(b.T))
        assert _summary(pairs["blur3"])[name] == pytest.approx(expected, rel=1e-6, abs=1e-9)
    frames = sum(len(v) for v in gen)
    clips = sum((len(v) - rh.CLIP_LENGTH) // rh.CLIP_STRIDE + 1 for v in gen)
    assert _summary(pairs["blur3"])["fid_vectors"] == frames
    assert _summary(pairs["blur3"])["fvd_clips"] == clips
    lpips = np.mean(
        [rh.PixelDistance().distance(g, r).mean() for g, r in zip(gen, real, strict=True)]
    )
    assert _summary(pairs["blur3"])["lpips"]["mean"] == pytest.approx(lpips, rel=1e-9)


def _clips(frames: np.ndarray) -> np.ndarray:
    starts = range(0, len(frames) - rh.CLIP_LENGTH + 1, rh.CLIP_STRIDE)
    return np.stack([frames[s : s + rh.CLIP_LENGTH] for s in starts])


@pytest.mark.slow  # the pairs fixture scores three sets with SyncNet
def test_each_record_names_its_protocol_and_features(pairs: dict[str, Any]) -> None:
    record = pairs["blur1"]["doc"]["results"][0]
    assert record["status"] == "ok" and record["lse_d"] is not None
    row = record["provenance"]["row"]
    assert set(row["protocol"]) == {"lpips", "csim", "fid", "fvd"}
    assert row["protocol"]["fvd"]["clip_length"] == rh.CLIP_LENGTH
    assert row["protocol"]["fid"]["real_set"].startswith("the reference")
    assert row["protocol"]["csim"]["backend"] == rh.FAKES["csim"]
    named = record["provenance"]["measures"]
    assert {"lpips", "csim", "fid", "fvd", "lmd"} <= set(named) and "FID" in named["fid"]
    with np.load(row["features"]["fid"]) as data:
        assert data["generated"].shape == (row["vectors"]["fid"]["generated"], 3)


@pytest.mark.slow  # the pairs fixture scores three sets with SyncNet
def test_csv_and_parquet_have_the_per_video_columns(pairs: dict[str, Any], tmp_path: Path) -> None:
    root = pairs["root"]
    out = tmp_path / "run.csv"
    made = _row(
        root / "blur1" / "v0.mkv", root / "real" / "v0.mkv", out, "--measures", "lpips,csim"
    )
    assert made.exit_code == 0, made.output
    rows = list(csv.DictReader(out.open()))
    assert float(rows[0]["lpips"]) > 0 and 0 < float(rows[0]["csim"]) <= 1
    assert "fid" not in rows[0]  # a set value has no per-video column
    pytest.importorskip("pyarrow")
    from syncnet_eval.parquet import iter_parquet_records

    parquet = tmp_path / "run.parquet"
    made = _row(root / "blur1", root / "real", parquet, "--measures", "lpips,fid")
    assert made.exit_code == 0, made.output
    records = list(iter_parquet_records(parquet))
    assert len(records) == 2 and all(r["lpips"] > 0 for r in records)
    gated = invoke_cli(["check", str(parquet), "--include-flagged", "--limit", "fid<=1e9"])
    assert gated.exit_code == 0, gated.output  # the features files the records name


@pytest.mark.slow  # the pairs fixture scores three sets with SyncNet
def test_check_gates_the_set_values_and_the_means(pairs: dict[str, Any]) -> None:
    blurred = str(pairs["blur3"]["json"])
    fid = _summary(pairs["blur3"])["fid"]
    flags = ["--include-flagged"]
    assert invoke_cli(["check", blurred, *flags, "--limit", f"fid<={fid * 1.01}"]).exit_code == 0
    failed = invoke_cli(["check", blurred, *flags, "--limit", f"fid<={fid * 0.99}"])
    assert failed.exit_code == 1 and "fid" in failed.output
    assert invoke_cli(["check", blurred, *flags, "--limit", "csim>=0.5"]).exit_code == 0
    assert invoke_cli(["check", blurred, *flags, "--limit", "lpips<=0.0001"]).exit_code == 1


@pytest.mark.slow  # the pairs fixture scores three sets with SyncNet
def test_baseline_tolerance_per_measure(pairs: dict[str, Any]) -> None:
    base, new = str(pairs["blur0"]["json"]), str(pairs["blur3"]["json"])
    fid = _summary(pairs["blur3"])["fid"]
    args = ["check", new, "--baseline", base, "--include-flagged"]
    assert invoke_cli([*args, "--tolerance", f"fid={fid * 1.01}"]).exit_code == 0
    tight = invoke_cli([*args, "--tolerance", f"fid={fid * 0.5}"])
    assert tight.exit_code == 1 and "tolerance:fid" in tight.output
    assert invoke_cli([*args, "--tolerance", "lpips=0.0001", "--strict"]).exit_code == 1
    assert invoke_cli([*args, "--tolerance", "lpips=1"]).exit_code == 0
    # Improving is never a breach: the baseline is the blurred run here.
    back = ["check", base, "--baseline", new, "--include-flagged", "--strict"]
    assert invoke_cli([*back, "--tolerance", "fid=0", "--tolerance", "csim=0"]).exit_code == 0
    bad = invoke_cli([*args, "--tolerance", "fid_vectors=1"])
    assert bad.exit_code == 2 and "better direction" in bad.output


@pytest.mark.slow  # the pairs fixture scores three sets with SyncNet
def test_compare_and_filter_read_the_records(pairs: dict[str, Any], tmp_path: Path) -> None:
    base, new = str(pairs["blur0"]["json"]), str(pairs["blur3"]["json"])
    assert invoke_cli(["compare", base, new]).exit_code == 0
    kept = tmp_path / "kept.csv"
    args = ["--keep-flagged", "--limit", "lpips<=0.001", "-o", str(kept)]
    assert invoke_cli(["filter", base, *args]).exit_code == 0
    assert len(list(csv.DictReader(kept.open()))) == 2
    assert invoke_cli(["filter", new, *args]).exit_code == 0
    assert list(csv.DictReader(kept.open())) == []
    refused = invoke_cli(["filter", new, "--limit", "fid<=1", "-o", str(kept)])
    assert refused.exit_code == 2 and "check" in refused.output


@pytest.mark.slow  # the pairs fixture scores three sets with SyncNet
def test_a_rerun_resumes_and_keeps_the_features(pairs: dict[str, Any], tmp_path: Path) -> None:
    root = pairs["root"]
    log = tmp_path / "run.jsonl"
    first = _row(root / "blur1", root / "real", log, "--measures", "fid")
    assert first.exit_code == 0, first.output
    files = sorted((tmp_path / "run.features").glob("*.fid.npz"))
    assert len(files) == 2
    stamps = [f.stat().st_mtime_ns for f in files]
    again = _row(root / "blur1", root / "real", log, "--measures", "fid")
    assert again.exit_code == 0, again.output
    assert [f.stat().st_mtime_ns for f in files] == stamps
    assert first.output.splitlines()[-2] == again.output.splitlines()[-2]  # the same FID


@pytest.mark.slow  # the pairs fixture scores three sets with SyncNet
def test_fewer_vectors_than_dimensions_warns(pairs: dict[str, Any], tmp_path: Path) -> None:
    root = pairs["root"]
    gen, ref = root / "blur1" / "v0.mkv", root / "real" / "v0.mkv"
    made = _row(gen, ref, tmp_path / "one.json", "--measures", "fid", "--frame-stride", "8")
    assert made.exit_code == 0, made.output
    assert "fewer than the features' 3 dimensions" in made.output


@pytest.mark.slow  # the pairs fixture scores three sets with SyncNet
def test_a_missing_model_is_one_line(pairs: dict[str, Any], tmp_path: Path) -> None:
    """The published FID model (the fid helper's module, or its weights offline) missing:
    one line naming it, before any video is scored."""
    root = pairs["root"]
    out = tmp_path / "x.json"
    made = _row(
        root / "blur1",
        root / "real",
        out,
        "--measures",
        "fid",
        "--fid-model",
        "inception",
        "--offline",
    )
    assert made.exit_code == 1
    errors = [line for line in made.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and ("fid" in errors[0].lower() or "inception" in errors[0].lower())
    assert "syncnet_v2" not in errors[0]  # SyncNet's (test) weights were found
    assert not out.exists()


@pytest.mark.slow  # the pairs fixture scores three sets with SyncNet
def test_a_missing_reference_is_a_record_and_the_others_go_on(
    pairs: dict[str, Any], tmp_path: Path
) -> None:
    root = pairs["root"]
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(root / "real" / "v0.mkv", partial / "v0.mkv")
    made = _row(root / "blur1", partial, tmp_path / "p.json", "--measures", "lpips")
    assert made.exit_code == 1
    records = json.loads((tmp_path / "p.json").read_text())["results"]
    assert [r["status"] for r in records] == ["ok", "error"]
    assert "reference file not found" in records[1]["reason"]


@pytest.mark.slow  # the pairs fixture scores three sets with SyncNet
def test_unknown_measures_and_models_are_bad_usage(pairs: dict[str, Any], tmp_path: Path) -> None:
    root = pairs["root"]
    made = _row(root / "blur1", root / "real", tmp_path / "x.json", "--measures", "fid,iq")
    assert made.exit_code == 2 and "iq" in made.output
    made = _row(root / "blur1", root / "real", tmp_path / "x.json", "--fid-model", "dlib")
    assert made.exit_code == 2 and "fid model" in made.output
    assert get_extractor("inception", "fid").factory == "syncnet_eval.fid:FidExtractor"


@pytest.mark.slow
def test_the_whole_row_with_lmd_on_a_real_clip_against_its_re_encoding(tmp_path: Path) -> None:
    """syncnet_example.avi against its h264 re-encoding (the same clip, PROVENANCE.md): every
    column measured, LMD small, CSIM near 1."""
    pytest.importorskip("dlib")
    ref = rh.cut_clip(MEDIA_DIR / "syncnet_example.avi", tmp_path / "ref.mkv", 0.4)
    gen = tmp_path / "gen.mp4"
    shutil.copy(MEDIA_DIR / "syncnet_example_h264.mp4", gen)
    gen = rh.cut_clip(gen, tmp_path / "gen.mkv", 0.4)
    made = _row(gen, ref, tmp_path / "all.json", "--landmarks", "dlib")
    assert made.exit_code == 0, made.output
    summary = json.loads((tmp_path / "all.json").read_text())["summary"]
    for name in ("lmd_px", "psnr_db", "ssim", "lpips", "csim"):
        assert summary[name]["mean"] is not None, name
    assert summary["lmd_px"]["mean"] < 2.0
    assert summary["csim"]["mean"] > 0.99
    assert summary["fid"] >= 0 and summary["fvd"] >= 0


@pytest.mark.slow  # the pairs fixture scores three sets with SyncNet
@needs_chromium
def test_the_report_shows_the_row_and_per_video_detail(
    pairs: dict[str, Any], browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    page = tmp_path / "report.html"
    made = invoke_cli(["report", str(pairs["blur3"]["json"]), "--include-flagged", "-o", str(page)])
    assert made.exit_code == 0, made.output
    open_page(browser, page)
    browser.get(page.as_uri() + "#v=0")
    cell = browser.find_element(By.CSS_SELECTOR, 'table.row-measures td[data-measure="fid"]')
    assert float(cell.text) == pytest.approx(_summary(pairs["blur3"])["fid"], abs=1e-4)
    lpips = browser.find_element(By.CSS_SELECTOR, 'table.row-measures td[data-measure="lpips"]')
    assert lpips.text.split()[0] == f"{_summary(pairs['blur3'])['lpips']['mean']:.4f}"
    lines = [p.text for p in browser.find_elements(By.CSS_SELECTOR, "#detail p.measure")]
    assert any(line.startswith("lpips: LPIPS") for line in lines), lines
    assert any(line.startswith("csim: CSIM") for line in lines), lines
    assert console_errors(browser) == []


# -- fast: the seam without SyncNet ------------------------------------------------------------


@pytest.fixture(scope="module")
def short_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A 0.4 s clip of real video, a copy blurred by 2 px, and a copy of it."""
    if not (MEDIA_DIR / SOURCE).is_file():
        pytest.skip(f"{MEDIA_DIR / SOURCE} not found")
    root = tmp_path_factory.mktemp("row_short")
    ref = rh.cut_clip(MEDIA_DIR / SOURCE, root / "ref.mkv", 0.4)
    blurred = rh.cut_clip(MEDIA_DIR / SOURCE, root / "blur.mkv", 0.4, blur=2.0)
    return ref, blurred, rh.cut_clip(MEDIA_DIR / SOURCE, root / "same.mkv", 0.4)


def _parts(tmp_path: Path, measures: tuple[str, ...] = ("lpips", "csim", "fid", "fvd")) -> Any:
    from syncnet_eval.config import LmdConfig, RowConfig
    from syncnet_eval.row import RowParts

    config = RowConfig(
        measures,
        fid_model=rh.FAKES["fid"],
        fvd_model=rh.FAKES["fvd"],
        lpips_model=rh.FAKES["lpips"],
        csim_model=rh.FAKES["csim"],
    )
    return RowParts(config, LmdConfig(), "cpu", tmp_path / "features")


def _scored(path: Path) -> Any:
    from syncnet_eval.types import VideoResult

    return VideoResult(str(path), "ok", None, "direct", lse_d=7.0, lse_c=3.0)


def test_one_decode_feeds_every_measure_and_the_set_value_is_computed_from_the_files(
    short_pair: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    from syncnet_eval.row import fid_of_set, fvd_of_set

    ref, blurred, same = short_pair
    parts = _parts(tmp_path)
    done = parts.complete(_scored(blurred), ref, "blurred")
    assert done.ok and done.lse_d == 7.0  # SyncNet's numbers kept
    gen_frames, ref_frames = rh.decode_rgb(blurred), rh.decode_rgb(ref)
    expected = rh.PixelDistance().distance(gen_frames, ref_frames).mean()
    assert done.measures["lpips"] == pytest.approx(expected, rel=1e-9)
    assert done.measures["csim_frames"] == len(gen_frames)
    assert set(done.timings_s) >= {"lpips", "csim", "fid", "fvd"}
    a, b = rh.frame_features(gen_frames), rh.frame_features(ref_frames)
    fid = rh.frechet_direct(a.mean(0), np.cov(a.T), b.mean(0), np.cov(b.T))
    assert fid_of_set([done])["fid"] == pytest.approx(fid, rel=1e-6)
    assert fid_of_set([done])["fid_vectors"] == len(gen_frames)
    assert fvd_of_set([done])["fvd_clips"] == (len(gen_frames) - rh.CLIP_LENGTH) // 2 + 1
    itself = parts.complete(_scored(same), ref, "same")
    assert fid_of_set([itself])["fid"] == pytest.approx(0.0, abs=1e-9)
    assert itself.measures["lpips"] == 0.0
    assert 0.999 < itself.measures["csim"] <= 1.0  # each frame against the first frame
    assert fid_of_set([_scored(same)]) == {}  # a record without features: no set value


def test_a_pair_that_cannot_be_compared_is_a_failure_record(
    short_pair: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    ref, blurred, _ = short_pair
    parts = _parts(tmp_path, ("lpips",))
    missing = parts.complete(_scored(blurred), tmp_path / "nope.mkv", "x")
    assert missing.status == "error" and "nope.mkv" in (missing.reason or "")
    none = parts.complete(_scored(blurred), None, "x")
    assert none.status == "error" and "no reference" in (none.reason or "")


def test_a_missing_features_file_gives_no_set_value(
    short_pair: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    from syncnet_eval.row import fid_of_set

    ref, blurred, _ = short_pair
    done = _parts(tmp_path, ("fid",)).complete(_scored(blurred), ref, "gone")
    Path(done.provenance["row"]["features"]["fid"]).unlink()
    assert fid_of_set([done]) == {}


def test_a_missing_model_module_is_one_line() -> None:
    from syncnet_eval.errors import DependencyError
    from syncnet_eval.extractors import ExtractorSpec

    spec = ExtractorSpec("ghost", "fid", "no such module", "syncnet_eval.no_such_module:Model")
    with pytest.raises(DependencyError, match="fid model 'ghost'") as caught:
        spec.build()
    assert "\n" not in str(caught.value)


# -- the published networks' code (seeded weights, never the real ones) -----------------------

REAL_SECONDS = 0.68  # 17 frames: one 16-frame FVD clip per video, SyncNet's windows


@pytest.fixture(scope="module")
def seeded_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Seeded files of each real extractor's architecture, written here (never the official
    weights): FID's Inception, FVD's I3D, LPIPS's AlexNet and its v0.1 heads."""
    torch = pytest.importorskip("torch")
    from i3d_helpers import seeded_i3d_state
    from lpips_cases import HEADS_SEED_OFFSET, SEEDS, head_shapes, seeded_tensors

    from syncnet_eval.lpips import LPIPS_NETS
    from syncnet_eval.models.fid_inception import seeded_state_dict
    from syncnet_eval.models.lpips_nets import build_backbone

    folder = tmp_path_factory.mktemp("seeded")
    files = {
        "fid": folder / "fid_inception.pth",
        "fvd": folder / "i3d.pth",
        "lpips": folder / "alex.pth",
        "heads": folder / "alex_heads.pth",
    }
    torch.save(seeded_state_dict(0), files["fid"])
    torch.save(seeded_i3d_state(), files["fvd"])
    shapes = [(k, tuple(v.shape)) for k, v in build_backbone("alex").state_dict().items()]
    torch.save(seeded_tensors(shapes, SEEDS["alex"]), files["lpips"])
    heads = head_shapes(LPIPS_NETS["alex"].channels)
    torch.save(seeded_tensors(heads, SEEDS["alex"] + HEADS_SEED_OFFSET, heads=True), files["heads"])
    return files


def _real_row(gen: Path, ref: Path, out: Path, files: dict[str, Path], *extra: str) -> Any:
    weights = MEDIA_DIR.parent / "weights" / "test" / "syncnet_parity_test.model"
    if not weights.is_file():
        pytest.skip(f"{weights} not found")
    args = ["row", str(gen), str(ref), "--recipe", "direct", "--syncnet-weights", str(weights)]
    args += ["--fid-weights", str(files["fid"]), "--fvd-weights", str(files["fvd"])]
    args += ["--lpips-weights", str(files["lpips"]), "--lpips-heads", str(files["heads"])]
    args += ["--measures", "lpips,csim,fid,fvd", "--frame-stride", "16", "--include-flagged"]
    return invoke_cli([*args, *extra, "-o", str(out), "-o", str(out.with_suffix(".csv"))])


@pytest.mark.slow  # Inception, I3D, AlexNet and dlib on CPU: two sets of two 17-frame pairs
def test_the_real_extractors_give_zero_against_itself_and_react_to_blur(
    seeded_weights: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real FidExtractor, FvdExtractor, LpipsMetric and dlib identity (seeded weights) through
    the row: a set against itself is FID = FVD = LPIPS = 0 and CSIM near 1; a blurred copy
    raises FID and LPIPS and lowers SSIM and CSIM; JSON, CSV, the summary and check read them.
    """
    pytest.importorskip("dlib")
    if not (MEDIA_DIR / SOURCE).is_file():
        pytest.skip(f"{MEDIA_DIR / SOURCE} not found")
    monkeypatch.delenv("SYNCNET_EVAL_WEIGHTS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    sets: dict[str, Path] = {}
    for tag, blur in (("real", 0.0), ("same", 0.0), ("blur", 3.0)):
        sets[tag] = tmp_path / tag
        sets[tag].mkdir()
        for k, start in enumerate(STARTS):
            rh.cut_clip(MEDIA_DIR / SOURCE, sets[tag] / f"v{k}.mkv", REAL_SECONDS, blur, start)
    docs: dict[str, dict[str, Any]] = {}
    for tag in ("same", "blur"):
        out = tmp_path / f"{tag}.json"
        made = _real_row(sets[tag], sets["real"], out, seeded_weights)
        assert made.exit_code == 0, made.output
        docs[tag] = json.loads(out.read_text())
    same, blur = docs["same"]["summary"], docs["blur"]["summary"]
    assert same["fid"] == pytest.approx(0.0, abs=1e-6)
    assert same["fvd"] == pytest.approx(0.0, abs=1e-6)
    assert same["lpips"]["mean"] == pytest.approx(0.0, abs=1e-9)
    assert same["csim"]["mean"] > 0.95
    assert blur["fid"] > same["fid"] + 1e-3 and blur["fvd"] > same["fvd"] + 1e-3
    assert blur["lpips"]["mean"] > 0.01
    assert blur["ssim"]["mean"] < same["ssim"]["mean"]
    assert blur["csim"]["mean"] < same["csim"]["mean"]
    # Every record names the real networks' protocols, and the vectors each set rests on.
    record = docs["blur"]["results"][0]
    protocol = record["provenance"]["row"]["protocol"]
    assert protocol["fid"]["weights"] == seeded_weights["fid"].name
    assert protocol["fid"]["weights_official"] is False
    assert protocol["fid"]["dim"] == 2048
    assert protocol["fvd"]["clip_length"] == 16 and protocol["fvd"]["stride_frames"] == 16
    assert protocol["csim"]["backend"] == "dlib"
    assert record["provenance"]["row"]["vectors"]["fvd"] == {"generated": 1, "reference": 1}
    assert record["provenance"]["row"]["vectors"]["fid"] == {"generated": 2, "reference": 2}
    with (tmp_path / "blur.csv").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("lpips")]
    assert len(rows) == 2 and all(float(r["csim"]) > 0 for r in rows)
    # check recomputes the set values from the features files the records name.
    gate = ["--include-flagged", "--limit", f"fid<={same['fid'] + 1e-3}"]  # 17-frame clips
    assert invoke_cli(["check", str(tmp_path / "same.json"), *gate]).exit_code == 0
    assert invoke_cli(["check", str(tmp_path / "blur.json"), *gate]).exit_code == 1


def test_offline_without_the_fid_file_is_one_line_naming_it_and_the_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = MEDIA_DIR.parent / "weights" / "test" / "syncnet_parity_test.model"
    if not weights.is_file() or not (MEDIA_DIR / SOURCE).is_file():
        pytest.skip("shared media or test weights not found")
    monkeypatch.delenv("SYNCNET_EVAL_WEIGHTS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    clip = MEDIA_DIR / SOURCE
    args = ["row", str(clip), str(clip), "--recipe", "direct", "--syncnet-weights", str(weights)]
    made = invoke_cli([*args, "--measures", "fid", "--offline", "-o", str(tmp_path / "x.json")])
    assert made.exit_code == 1
    # (besides the warning that SyncNet's test weights are not the official file)
    lines = [ln for ln in made.output.splitlines() if ln.strip() and not ln.startswith("WARNING")]
    assert len(lines) == 1 and lines[0].startswith("Error:"), made.output
    assert "pt_inception-2015-12-05-6726825d.pth" in lines[0] and "--fid-weights" in lines[0]


def test_the_rows_clip_cut_is_fvd_extractors(monkeypatch: pytest.MonkeyPatch) -> None:
    """The row cuts FVD clips from its one decode (two streams at once): the same clips as
    FvdExtractor.clips on one stream, for overlapping strides and a clip limit."""
    pytest.importorskip("torch")
    from syncnet_eval.fvd import FvdExtractor
    from syncnet_eval.row import _ClipFeatures

    frames = [np.full((4, 4, 3), i, np.uint8) for i in range(40)]
    for stride, max_clips in ((16, None), (5, None), (3, 4)):
        model = FvdExtractor.__new__(FvdExtractor)
        model.clip_length, model.stride, model.max_clips, model.dim = 16, stride, max_clips, 1
        expected = [c[:, 0, 0, 0].tolist() for c in model.clips(iter(frames))]
        monkeypatch.setattr(model, "features", lambda clips: clips[:, :, 0, 0, 0], raising=False)
        cut = _ClipFeatures(model)
        for frame in frames:
            cut.observe(frame[:, :, ::-1], frame[:, :, ::-1])
        assert cut.arrays()["generated"].tolist() == expected
