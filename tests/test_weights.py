"""Weights manager: registry, lookup order, verified atomic downloads and safe loading.

Downloads are served by a local HTTP server on 127.0.0.1; nothing here touches the internet or
the real user cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
import hashlib
import http.server
import json
import logging
import os
from pathlib import Path
import pickle
import random
import socket
import threading
from typing import Any

import pytest
import torch

from syncnet_eval.errors import ModelWeightsError
from syncnet_eval.io import file_sha256
from syncnet_eval.models import weights
from syncnet_eval.models.state import load_state_dict
from syncnet_eval.models.weights import (
    OPTIONAL,
    REGISTRY,
    WeightSpec,
    cache_dir,
    download_weights,
    find_weights,
    official_name,
    resolve_weights,
    search_dirs,
    verify_weights,
    weights_provenance,
    weights_sha256,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
# Larger than the 1 MiB stream chunk, so a download takes several reads.
PAYLOAD = random.Random(0).randbytes(2_500_000)
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


@dataclass
class Route:
    body: bytes
    content_length: int | None = None  # declared length; defaults to len(body)
    status: int = 200


@dataclass
class LocalServer:
    base_url: str
    routes: dict[str, Route] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base_url + path


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        route = self.server.routes.get(self.path)  # type: ignore[attr-defined]
        if route is None or route.status != 200:
            self.send_error(404 if route is None else route.status)
            return
        self.send_response(200)
        declared = len(route.body) if route.content_length is None else route.content_length
        self.send_header("Content-Length", str(declared))
        self.end_headers()
        # Then close: with a larger Content-Length this is a transfer cut off mid-file.
        self.wfile.write(route.body)
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass  # keep test output clean


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the real cache, home and proxies out of every test."""
    monkeypatch.delenv(weights.WEIGHTS_ENV_VAR, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


@pytest.fixture
def server() -> Iterator[LocalServer]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    local = LocalServer(base_url=f"http://127.0.0.1:{httpd.server_address[1]}")
    httpd.routes = local.routes  # type: ignore[attr-defined]
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield local
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def closed_url() -> str:
    """A loopback URL nobody listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/fake.model"


@pytest.fixture
def fake(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> WeightSpec:
    """A registry entry 'fake' served by the local server at /fake.model, mirror at /mirror."""
    server.routes["/fake.model"] = Route(PAYLOAD)
    spec = WeightSpec(
        name="fake",
        filename="fake.model",
        size=len(PAYLOAD),
        sha256=PAYLOAD_SHA256,
        urls=(server.url("/fake.model"), server.url("/mirror/fake.model")),
    )
    monkeypatch.setitem(REGISTRY, "fake", spec)
    return spec


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


# --- registry -----------------------------------------------------------------------------------


def test_repo_manifest_matches_registry() -> None:
    manifest = json.loads((REPO_ROOT / "weights" / "manifest.json").read_text())
    assert manifest["schema_version"] == 1
    assert manifest["weights"] == {
        name: {"filename": s.filename, "size": s.size, "sha256": s.sha256, "urls": list(s.urls)}
        for name, s in REGISTRY.items()
    }
    assert manifest["optional"] == {
        name: {
            "filename": s.filename,
            "size": s.size,
            "sha256": s.sha256,
            "urls": list(s.urls),
            **({"licence": s.licence} if s.licence is not None else {}),
        }
        for name, s in OPTIONAL.items()
    }


def test_registry_holds_the_official_files() -> None:
    syncnet, s3fd = REGISTRY["syncnet"], REGISTRY["s3fd"]
    assert (syncnet.filename, syncnet.size) == ("syncnet_v2.model", 54_573_114)
    assert syncnet.sha256 == "961e8696f888fce4f3f3a6c3d5b3267cf5b343100b238e79b2659bff2c605442"
    assert (s3fd.filename, s3fd.size) == ("sfd_face.pth", 89_844_381)
    assert s3fd.sha256 == "d54a87c2b7543b64729c9a25eafd188da15fd3f6e02f0ecec76ae1b30d86c491"
    for spec in (syncnet, s3fd):
        assert spec.urls[0].startswith("https://www.robots.ox.ac.uk/~vgg/software/lipsync/data/")
        assert len(spec.urls) >= 2
        assert all(spec.sha256 in url for url in spec.urls[1:])  # mirrors store by sha256


def test_unknown_name_is_a_weights_error() -> None:
    with pytest.raises(
        ModelWeightsError, match=r"known weights: .*light-asd-ava, light-asd-talkset, .*syncnet"
    ):
        find_weights("nope")


# --- hashing and verification --------------------------------------------------------------------


def test_file_sha256_streams_large_files(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(PAYLOAD)
    assert file_sha256(path) == PAYLOAD_SHA256


def test_verify_weights_names_both_hashes(tmp_path: Path, fake: WeightSpec) -> None:
    path = tmp_path / "fake.model"
    path.write_bytes(PAYLOAD)
    verify_weights(path, fake)
    path.write_bytes(PAYLOAD[:-1] + b"\0")
    actual = file_sha256(path)
    with pytest.raises(ModelWeightsError) as exc:
        verify_weights(path, fake)
    message = _one_line(exc)
    assert fake.sha256 in message and actual in message and str(path) in message


def test_weights_provenance_names_path_hash_and_whether_official(
    tmp_path: Path, fake: WeightSpec
) -> None:
    path = tmp_path / "renamed.bin"  # official bytes under another name
    path.write_bytes(PAYLOAD)
    assert weights_provenance("fake", path) == {
        "fake_weights": str(path),
        "fake_weights_sha256": PAYLOAD_SHA256,
        "fake_weights_official": True,
    }
    path.write_bytes(PAYLOAD[:-1] + b"\0")
    prov = weights_provenance("fake", path)
    assert prov["fake_weights_sha256"] == file_sha256(path)
    assert prov["fake_weights_official"] is False
    # Another registry entry's official file is not official under this name.
    path.write_bytes(PAYLOAD)
    assert weights_provenance("syncnet", path)["syncnet_weights_official"] is False


# --- downloads ----------------------------------------------------------------------------------


def test_good_download_lands_atomically_with_progress(
    tmp_path: Path,
    fake: WeightSpec,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / "cache"
    renames: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def spy_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        src, dst = Path(src), Path(dst)
        # At rename time the temp file holds the full, verified bytes and the final name is free.
        assert src.parent == target and src.name.startswith(".fake.model.")
        assert src.name.endswith(".part") and src.read_bytes() == PAYLOAD
        assert not dst.exists()
        renames.append((src, dst))
        real_replace(src, dst)

    monkeypatch.setattr(weights.os, "replace", spy_replace)
    result = download_weights("fake", target)

    assert result.path == target / "fake.model" and result.url == fake.urls[0]
    assert result.path.read_bytes() == PAYLOAD
    assert [dst for _, dst in renames] == [result.path]
    assert sorted(p.name for p in target.iterdir()) == ["fake.model"]
    stderr = capsys.readouterr().err
    assert "fake.model" in stderr and "100%" in stderr


def test_download_without_progress_is_silent(
    tmp_path: Path, fake: WeightSpec, capsys: pytest.CaptureFixture[str]
) -> None:
    path = download_weights("fake", tmp_path, progress=False).path
    assert path == tmp_path / "fake.model" and path.read_bytes() == PAYLOAD
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_corrupt_download_is_rejected_naming_both_hashes(
    tmp_path: Path, server: LocalServer, fake: WeightSpec
) -> None:
    corrupt = bytes([PAYLOAD[0] ^ 0xFF]) + PAYLOAD[1:]
    server.routes["/fake.model"] = Route(corrupt)
    with pytest.raises(ModelWeightsError) as exc:
        download_weights("fake", tmp_path, urls=[fake.urls[0]], progress=False)
    message = _one_line(exc)
    assert PAYLOAD_SHA256 in message
    assert hashlib.sha256(corrupt).hexdigest() in message
    assert fake.urls[0] in message
    assert list(tmp_path.iterdir()) == []  # neither the final file nor a .part


def test_oversized_download_is_rejected(
    tmp_path: Path, server: LocalServer, fake: WeightSpec
) -> None:
    server.routes["/fake.model"] = Route(PAYLOAD + b"extra")
    with pytest.raises(ModelWeightsError, match="size mismatch") as exc:
        download_weights("fake", tmp_path, urls=[fake.urls[0]], progress=False)
    assert PAYLOAD_SHA256 in _one_line(exc)
    assert list(tmp_path.iterdir()) == []


def test_failed_download_keeps_an_existing_file(
    tmp_path: Path, server: LocalServer, fake: WeightSpec
) -> None:
    (tmp_path / "fake.model").write_bytes(b"previous")
    server.routes["/fake.model"] = Route(PAYLOAD[:-1] + b"\0")
    with pytest.raises(ModelWeightsError):
        download_weights("fake", tmp_path, urls=[fake.urls[0]], progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["fake.model"]
    assert (tmp_path / "fake.model").read_bytes() == b"previous"


def test_truncated_transfer_leaves_nothing(
    tmp_path: Path, server: LocalServer, fake: WeightSpec
) -> None:
    # The server promises the whole file, sends 1.2 MB of it, then closes the connection.
    server.routes["/fake.model"] = Route(PAYLOAD[:1_200_000], content_length=len(PAYLOAD))
    with pytest.raises(ModelWeightsError, match="interrupted") as exc:
        download_weights("fake", tmp_path, urls=[fake.urls[0]], progress=False)
    assert "1200000 of 2500000 bytes" in _one_line(exc)
    assert list(tmp_path.iterdir()) == []


def test_keyboard_interrupt_mid_download_leaves_nothing(
    tmp_path: Path, fake: WeightSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    class InterruptedBar(weights.tqdm):  # type: ignore[misc, name-defined]
        def update(self, n: float | None = 1) -> bool | None:
            raise KeyboardInterrupt

    monkeypatch.setattr(weights, "tqdm", InterruptedBar)
    with pytest.raises(KeyboardInterrupt):
        download_weights("fake", tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_disk_error_mid_download_is_not_retried_and_leaves_nothing(
    tmp_path: Path, fake: WeightSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(out: object, chunk: bytes) -> None:
        raise ModelWeightsError("cannot write: No space left on device")

    monkeypatch.setattr(weights, "_write", full_disk)
    with pytest.raises(ModelWeightsError, match="No space left"):
        download_weights("fake", tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_url_gives_one_line_error(tmp_path: Path, closed_url: str) -> None:
    with pytest.raises(ModelWeightsError) as exc:
        download_weights("syncnet", tmp_path, urls=[closed_url], progress=False, timeout_s=5)
    message = _one_line(exc)
    assert closed_url in message
    assert str(tmp_path / "syncnet_v2.model") in message
    assert "syncnet-eval weights download" in message and "--syncnet-weights FILE" in message
    assert list(tmp_path.iterdir()) == []


def test_every_url_is_named_when_all_fail(
    tmp_path: Path, server: LocalServer, fake: WeightSpec, closed_url: str
) -> None:
    server.routes["/fake.model"] = Route(b"", status=404)
    urls = [fake.urls[0], closed_url, "http://[malformed/fake.model"]
    with pytest.raises(ModelWeightsError) as exc:
        download_weights("fake", tmp_path, urls=urls, progress=False)
    message = _one_line(exc)
    assert f"{fake.urls[0]}: HTTP 404" in message and all(url in message for url in urls)


@pytest.mark.parametrize("first", ["refused", "http-404", "corrupt", "truncated"])
def test_falls_back_to_a_working_mirror(
    first: str,
    tmp_path: Path,
    server: LocalServer,
    fake: WeightSpec,
    closed_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.routes["/mirror/fake.model"] = Route(PAYLOAD)
    bad = {
        "refused": None,
        "http-404": Route(b"", status=404),
        "corrupt": Route(PAYLOAD[::-1]),
        "truncated": Route(PAYLOAD[:1000], content_length=len(PAYLOAD)),
    }[first]
    if bad is None:
        urls = [closed_url, fake.urls[1]]
    else:
        server.routes["/fake.model"] = bad
        urls = list(fake.urls)
    caplog.set_level(logging.INFO, logger=weights.__name__)

    result = download_weights("fake", tmp_path, urls=urls, progress=False)

    assert result.url == fake.urls[1]
    assert result.path.read_bytes() == PAYLOAD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.model"]
    assert any(r.levelno == logging.WARNING and urls[0] in r.getMessage() for r in caplog.records)
    assert any(
        "downloaded" in r.getMessage() and fake.urls[1] in r.getMessage() for r in caplog.records
    )


# --- lookup -------------------------------------------------------------------------------------


def test_cache_dir_follows_xdg_then_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cache_dir() == tmp_path / "xdg" / "syncnet-eval"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert cache_dir() == tmp_path / "home" / ".cache" / "syncnet-eval"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == tmp_path / "home" / ".cache" / "syncnet-eval"


def test_search_dirs_env_then_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert search_dirs() == [cache_dir()]
    assert search_dirs(tmp_path / "c") == [tmp_path / "c"]
    monkeypatch.setenv(weights.WEIGHTS_ENV_VAR, str(tmp_path / "env"))
    assert search_dirs(tmp_path / "c") == [tmp_path / "env", tmp_path / "c"]


def test_lookup_order_explicit_then_env_then_cache(
    tmp_path: Path, fake: WeightSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_dir, cache, other = tmp_path / "env", tmp_path / "cache", tmp_path / "other"
    for directory in (env_dir, cache, other):
        directory.mkdir()
    (cache / "fake.model").write_bytes(PAYLOAD)
    assert find_weights("fake", cache=cache) == cache / "fake.model"
    assert resolve_weights("fake", target_dir=cache, offline=True) == cache / "fake.model"

    monkeypatch.setenv(weights.WEIGHTS_ENV_VAR, str(env_dir))
    (env_dir / "fake.model").write_bytes(PAYLOAD)
    assert resolve_weights("fake", target_dir=cache, offline=True) == env_dir / "fake.model"

    # An explicit file wins and is not hash-checked (fine-tuned or test weights).
    explicit = other / "finetuned.pt"
    explicit.write_bytes(b"not the official bytes")
    assert resolve_weights("fake", explicit, target_dir=cache, offline=True) == explicit


def test_default_cache_is_searched(tmp_path: Path, fake: WeightSpec) -> None:
    cache_dir().mkdir(parents=True)
    (cache_dir() / "fake.model").write_bytes(PAYLOAD)
    assert resolve_weights("fake", offline=True) == tmp_path / "xdg" / "syncnet-eval" / "fake.model"


def test_missing_explicit_file_is_an_error_without_fallback(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "syncnet_v2.model").write_bytes(b"x")
    missing = tmp_path / "nope.model"
    with pytest.raises(ModelWeightsError, match="does not exist") as exc:
        resolve_weights("syncnet", missing, target_dir=cache, offline=True)
    assert "--syncnet-weights" in _one_line(exc) and str(missing) in str(exc.value)
    with pytest.raises(ModelWeightsError, match="is a directory"):
        resolve_weights("s3fd", cache, target_dir=cache, offline=True)


def test_found_file_with_wrong_size_is_an_error(tmp_path: Path, fake: WeightSpec) -> None:
    (tmp_path / "fake.model").write_bytes(PAYLOAD[:100])
    with pytest.raises(ModelWeightsError, match="100 bytes") as exc:
        resolve_weights("fake", target_dir=tmp_path, offline=True)
    assert str(tmp_path / "fake.model") in _one_line(exc)


def test_offline_without_weights_fails_in_one_line(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(ModelWeightsError) as exc:
        resolve_weights("syncnet", target_dir=cache, offline=True)
    message = _one_line(exc)
    spec = REGISTRY["syncnet"]
    assert spec.filename in message and spec.urls[0] in message
    assert str(cache / spec.filename) in message
    assert "syncnet-eval weights download" in message
    assert not cache.exists()


def test_offline_messages_name_the_command_that_fetches_each_file(tmp_path: Path) -> None:
    # `weights download` alone fetches syncnet and s3fd only: an optional checkpoint by name.
    with pytest.raises(ModelWeightsError) as exc:
        resolve_weights("light-asd-talkset", target_dir=tmp_path, offline=True)
    message = _one_line(exc)
    assert "`syncnet-eval weights download light-asd-talkset`" in message
    assert "--asd-weights FILE" in message
    # The row's files: each names the option that takes one's own file, and its licence.
    for name, option in (
        ("fid", "--fid-weights"),
        ("alexnet-imagenet", "--lpips-weights"),
        ("lpips-vgg-v0.1", "--lpips-heads"),
    ):
        with pytest.raises(ModelWeightsError) as exc:
            resolve_weights(name, target_dir=tmp_path, offline=True)
        message = _one_line(exc)
        assert f"`syncnet-eval weights download {name}`" in message
        assert f"{option} FILE" in message
        assert f"(licence: {OPTIONAL[name].licence})" in message
    # The demo clip is no weight file and no `weights download` can fetch it.
    with pytest.raises(ModelWeightsError) as exc:
        resolve_weights("demo", target_dir=tmp_path, offline=True)
    message = _one_line(exc)
    assert "(the SyncNet demo clip)" in message and "weights download" not in message
    assert "syncnet-eval selftest VIDEO" in message


def test_resolve_downloads_once_then_finds_the_cache(
    tmp_path: Path, server: LocalServer, fake: WeightSpec
) -> None:
    path = resolve_weights("fake", target_dir=tmp_path, progress=False)
    assert path == tmp_path / "fake.model" and path.read_bytes() == PAYLOAD
    server.routes.clear()  # a second download would now fail
    assert resolve_weights("fake", target_dir=tmp_path, progress=False) == path


# --- loading ------------------------------------------------------------------------------------


def _tensors() -> dict[str, torch.Tensor]:
    return {"layer.weight": torch.ones(2, 3), "layer.bias": torch.zeros(2)}


def test_load_state_dict_plain(tmp_path: Path) -> None:
    path = tmp_path / "w.pth"
    torch.save(_tensors(), path)
    state = load_state_dict(path)
    assert set(state) == {"layer.weight", "layer.bias"}
    assert torch.equal(state["layer.weight"], torch.ones(2, 3))


@pytest.mark.parametrize("key", ["state_dict", "model"])
def test_load_state_dict_unwraps_checkpoints(tmp_path: Path, key: str) -> None:
    path = tmp_path / "ckpt.pth"
    torch.save({key: _tensors(), "epoch": 3}, path)
    assert set(load_state_dict(path)) == {"layer.weight", "layer.bias"}


@pytest.mark.parametrize(
    "obj", [[torch.ones(1)], {"epoch": 3}, {"w": torch.ones(1), "epoch": 3}, {}, torch.ones(3)]
)
def test_load_state_dict_refuses_non_state_dicts(tmp_path: Path, obj: object) -> None:
    path = tmp_path / "not_state.pth"
    torch.save(obj, path)
    with pytest.raises(ModelWeightsError, match="not a state dict") as exc:
        load_state_dict(path)
    assert str(path) in _one_line(exc)


def test_load_state_dict_refuses_garbage(tmp_path: Path) -> None:
    path = tmp_path / "garbage.model"
    path.write_bytes(b"<html>404 Not Found</html>" * 10)
    with pytest.raises(ModelWeightsError, match="cannot load weights") as exc:
        load_state_dict(path)
    assert str(path) in _one_line(exc)


class _Payload:
    """Stands for an arbitrary pickled object that weights_only must refuse to run."""


def test_load_state_dict_refuses_unsafe_pickles(tmp_path: Path) -> None:
    path = tmp_path / "unsafe.pth"
    with path.open("wb") as fh:
        pickle.dump({"w": _Payload()}, fh, protocol=2)
    with pytest.raises(ModelWeightsError, match="cannot load weights") as exc:
        load_state_dict(path)
    assert str(path) in _one_line(exc)


def test_an_unsafe_pickle_is_refused_without_advice_to_load_it_anyway(tmp_path: Path) -> None:
    path = tmp_path / "unsafe.pth"
    with path.open("wb") as fh:
        pickle.dump({"w": _Payload()}, fh, protocol=2)
    with pytest.raises(ModelWeightsError) as exc:
        load_state_dict(path)
    message = str(exc.value)
    assert "\n" not in message and str(path) in message
    assert "refused" in message and "_Payload" in message  # what it holds, and that it is refused
    for advice in ("weights_only", "safe_globals", "trust"):
        assert advice not in message, advice


def test_load_state_dict_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelWeightsError, match="cannot load weights"):
        load_state_dict(tmp_path / "absent.pth")


def test_a_wrong_file_of_the_official_size_in_the_cache_is_refused(
    fake: WeightSpec, tmp_path: Path
) -> None:
    cache = cache_dir()
    cache.mkdir(parents=True)
    (cache / fake.filename).write_bytes(PAYLOAD[:-1] + b"!")  # right size, other content
    with pytest.raises(ModelWeightsError) as exc:
        resolve_weights("fake", offline=True)
    assert "not the official fake.model" in _one_line(exc) and PAYLOAD_SHA256 in str(exc.value)
    (cache / fake.filename).write_bytes(PAYLOAD)
    assert resolve_weights("fake", offline=True) == cache / fake.filename


def test_verified_hashes_are_remembered_by_size_and_mtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.model"
    path.write_bytes(PAYLOAD)
    calls: list[Path] = []
    real = weights.file_sha256

    def counting(p: Any) -> str:
        calls.append(Path(p))
        return real(p)

    monkeypatch.setattr(weights, "file_sha256", counting)
    assert weights_sha256(path) == PAYLOAD_SHA256
    assert weights_sha256(path) == PAYLOAD_SHA256
    assert len(calls) == 1  # the second lookup costs nothing
    os.utime(path, ns=(1, 1))  # a changed file gets another mtime
    assert weights_sha256(path) == PAYLOAD_SHA256 and len(calls) == 2
    assert official_name(PAYLOAD_SHA256) is None
    assert official_name(REGISTRY["syncnet"].sha256) == "syncnet"
