"""The ``weights`` commands and ``score --offline`` through the CLI (loopback server only)."""

from __future__ import annotations

from collections.abc import Iterator
import hashlib
import http.server
from pathlib import Path
import threading

from click.testing import CliRunner
import pytest

from syncnet_eval.cli import cli
from syncnet_eval.models import weights as wm

from conftest import MEDIA_DIR

PAYLOAD = b"not really a model, but 64 bytes of deterministic content....!!"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/syncnet_v2.model"
    httpd.shutdown()


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SYNCNET_EVAL_WEIGHTS", raising=False)
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "xdg" / "syncnet-eval"


def _fake_registry(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    spec = wm.WeightSpec(
        name="syncnet",
        filename="syncnet_v2.model",
        size=len(PAYLOAD),
        sha256=hashlib.sha256(PAYLOAD).hexdigest(),
        urls=(url,),
    )
    monkeypatch.setitem(wm.REGISTRY, "syncnet", spec)


def test_download_verify_where_round_trip(
    server: str, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_registry(monkeypatch, server)
    runner = CliRunner()
    res = runner.invoke(cli, ["weights", "where"])
    assert res.exit_code == 0 and "syncnet: missing" in res.output

    res = runner.invoke(cli, ["weights", "download", "syncnet"])
    assert res.exit_code == 0, res.output
    final = cache / "syncnet_v2.model"
    assert final.read_bytes() == PAYLOAD
    assert f"downloaded from {server}" in res.output
    assert not list(cache.glob("*.part")) and not list(cache.glob(".*.part"))

    res = runner.invoke(cli, ["weights", "verify", str(final)])
    assert res.exit_code == 0 and f"{final}: OK (syncnet" in res.output

    final.write_bytes(PAYLOAD[:-1] + b"?")  # same size, other content
    res = runner.invoke(cli, ["weights", "verify", str(final)])
    assert res.exit_code == 1
    assert hashlib.sha256(PAYLOAD).hexdigest() in res.output  # names the expected hash


def test_score_offline_without_weights_is_one_line(cache: Path) -> None:
    clip = MEDIA_DIR / "syncnet_example.avi"
    res = CliRunner().invoke(cli, ["score", str(clip), "--recipe", "direct", "--offline"])
    assert res.exit_code == 1
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1, res.output
    assert "syncnet_v2.model" in lines[0] and "offline" in lines[0]
    assert "Traceback" not in res.output


def test_where_says_whether_each_file_verifies_and_score_refuses_a_bad_one(
    server: str, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_registry(monkeypatch, server)
    runner = CliRunner()
    assert runner.invoke(cli, ["weights", "download", "syncnet"]).exit_code == 0
    res = runner.invoke(cli, ["weights", "where"])
    assert "syncnet_v2.model, verified" in res.output
    (cache / "syncnet_v2.model").write_bytes(PAYLOAD[:-1] + b"?")
    res = runner.invoke(cli, ["weights", "where"])
    assert "BAD" in res.output
    clip = MEDIA_DIR / "syncnet_example.avi"
    res = runner.invoke(cli, ["score", str(clip), "--recipe", "direct", "--offline"])
    assert res.exit_code == 1 and "not the official syncnet_v2.model" in res.output


def test_download_tries_every_file_and_creates_nothing_before_a_server_answers(
    server: str, tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_registry(monkeypatch, server)
    broken = wm.WeightSpec(
        name="s3fd",
        filename="sfd_face.pth",
        size=10,
        sha256="0" * 64,
        urls=("http://127.0.0.1:9/nothing",),  # the discard port: refused at once
    )
    monkeypatch.setitem(wm.REGISTRY, "s3fd", broken)
    target = tmp_path / "new" / "dir"
    res = CliRunner().invoke(cli, ["weights", "download", "s3fd", "--dir", str(target)])
    assert res.exit_code == 1 and "sfd_face.pth" in res.output
    assert not target.exists()  # nothing was made for a download that never started
    res = CliRunner().invoke(cli, ["weights", "download", "s3fd", "syncnet", "--dir", str(target)])
    assert res.exit_code == 1  # s3fd failed ...
    assert (target / "syncnet_v2.model").read_bytes() == PAYLOAD  # ... and syncnet was still tried


def test_verify_prints_one_line_per_file_and_fails_after_the_last(
    server: str, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_registry(monkeypatch, server)
    official = tmp_path / "a.model"
    official.write_bytes(PAYLOAD)
    stranger = tmp_path / "b.pth"
    stranger.write_bytes(b"something else entirely")
    near_miss = tmp_path / "syncnet_v2.model"  # the official name, other bytes
    near_miss.write_bytes(PAYLOAD[:-1] + b"?")
    missing = tmp_path / "gone.model"
    files = [stranger, official, missing, near_miss]
    res = CliRunner().invoke(cli, ["weights", "verify", *map(str, files)])
    assert res.exit_code == 1, res.output
    lines = res.output.splitlines()
    assert len(lines) == len(files), res.output
    for line, path in zip(lines, files, strict=True):
        assert line.startswith(f"{path}: "), line
    assert lines[0].startswith(f"{stranger}: BAD not one of the official")
    assert lines[1] == f"{official}: OK (syncnet, syncnet_v2.model)"
    assert "BAD" in lines[2] and "no such file" in lines[2]
    assert hashlib.sha256(PAYLOAD).hexdigest() in lines[3]  # names the expected hash
    res = CliRunner().invoke(cli, ["weights", "verify", str(official)])
    assert res.exit_code == 0, res.output


def test_where_names_each_optional_files_option_and_licence(cache: Path) -> None:
    res = CliRunner().invoke(cli, ["weights", "where"])
    assert res.exit_code == 0, res.output
    lines = {ln.split(":", 1)[0]: ln for ln in res.output.splitlines()}
    expected = {
        "light-asd-talkset": "--asd-weights",
        "fid": "--fid-weights",
        "alexnet-imagenet": "--lpips-weights",
        "vgg16-imagenet": "--lpips-weights",
        "lpips-alex-v0.1": "--lpips-heads",
        "lpips-vgg-v0.1": "--lpips-heads",
    }
    for name, option in expected.items():
        assert f"(optional: {option}" in lines[name], lines[name]
        licence = wm.OPTIONAL[name].licence
        if licence:
            assert f"licence: {licence}" in lines[name]
    assert "(optional: --asd)" not in res.output


@pytest.mark.parametrize("name", ["fid", "alexnet-imagenet", "lpips-alex-v0.1"])
def test_download_an_optional_row_file_by_name(
    name: str, server: str, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    official = wm.OPTIONAL[name]
    spec = wm.WeightSpec(
        name=name,
        filename=official.filename,
        size=len(PAYLOAD),
        sha256=hashlib.sha256(PAYLOAD).hexdigest(),
        urls=(server,),
        licence=official.licence,
    )
    monkeypatch.setitem(wm.OPTIONAL, name, spec)
    res = CliRunner().invoke(cli, ["weights", "download", name])
    assert res.exit_code == 0, res.output
    assert (cache / official.filename).read_bytes() == PAYLOAD
    res = CliRunner().invoke(cli, ["weights", "where"])
    assert f"{official.filename}, verified" in res.output
