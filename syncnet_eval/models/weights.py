"""Locate, download, verify and load the pretrained weight files.

Lookup order for a weight file (the first hit wins):

1. an explicit file (``--syncnet-weights FILE`` / ``--s3fd-weights FILE``); it must exist, and it is
   not checked against the official hash, so fine-tuned or test weights can be used;
2. ``<dir>/<official filename>`` where ``<dir>`` is the ``SYNCNET_EVAL_WEIGHTS`` environment
   variable;
3. ``<cache>/<official filename>`` where ``<cache>`` is :func:`cache_dir`.

Files found in 2 or 3 must have the official size (:func:`verify_weights` also checks the sha256).
When nothing is found the file is downloaded into the cache, official URL first, then mirrors,
and kept only if size and sha256 match. The registry below is the manifest shipped with the
package; ``weights/manifest.json`` in the repository holds the same table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import contextlib
from dataclasses import dataclass
import hashlib
import http.client
import json
import logging
import os
from pathlib import Path
import sys
import tempfile
from typing import IO, Any
import urllib.error
import urllib.request

from tqdm import tqdm

from ..errors import ModelWeightsError
from ..io import file_sha256

__all__ = [
    "ASSETS",
    "OPTIONAL",
    "REGISTRY",
    "WEIGHTS_ENV_VAR",
    "DownloadResult",
    "WeightSpec",
    "cache_dir",
    "download_weights",
    "find_weights",
    "official_name",
    "resolve_weights",
    "search_dirs",
    "verify_weights",
    "weights_option",
    "weights_provenance",
    "weights_sha256",
]

logger = logging.getLogger(__name__)

WEIGHTS_ENV_VAR = "SYNCNET_EVAL_WEIGHTS"
_CACHE_SUBDIR = "syncnet-eval"
_CHUNK_BYTES = 1 << 20  # 1 MiB download stream chunks
_USER_AGENT = "syncnet-eval (+https://pypi.org/project/syncnet-eval/)"
_HF_MIRROR = "https://huggingface.co/JaesungHuh/voxconverse_pipeline/resolve/main/models"
# Light-ASD's published checkpoints, in its repository's weight/ folder (pinned commit).
_LIGHT_ASD = (
    "https://github.com/Junhua-Liao/Light-ASD/raw/ed38c232de5efe0261dbd68627c0ade7cdfe14eb/weight"
)

# LPIPS's v0.1 linear heads, in its repository's lpips/weights/v0.1 folder (pinned commit).
_LPIPS = (
    "https://github.com/richzhang/PerceptualSimilarity/raw/"
    "082bb24f84c091ea94de2867d34c4544f68e0963/lpips/weights/v0.1"
)

# The manifest shipped with the package, in the JSON shape of the repository's
# weights/manifest.json (a test keeps the two equal). Mirrors serve byte-identical copies and are
# tried only after the official URL fails.
_MANIFEST: dict[str, Any] = {
    "schema_version": 1,
    "weights": {
        "syncnet": {
            "filename": "syncnet_v2.model",
            "size": 54573114,
            "sha256": "961e8696f888fce4f3f3a6c3d5b3267cf5b343100b238e79b2659bff2c605442",
            "urls": [
                "https://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model",
                (
                    f"{_HF_MIRROR}/961e8696f888fce4f3f3a6c3d5b3267cf5b343100b238e79b2659bff2c605442"
                    "/syncnet.model"
                ),
            ],
        },
        "s3fd": {
            "filename": "sfd_face.pth",
            "size": 89844381,
            "sha256": "d54a87c2b7543b64729c9a25eafd188da15fd3f6e02f0ecec76ae1b30d86c491",
            "urls": [
                "https://www.robots.ox.ac.uk/~vgg/software/lipsync/data/sfd_face.pth",
                (
                    f"{_HF_MIRROR}/d54a87c2b7543b64729c9a25eafd188da15fd3f6e02f0ecec76ae1b30d86c491"
                    "/s3fd.model"
                ),
            ],
        },
    },
    # Loaded only when asked for (--asd light-asd); `weights download` fetches them by name.
    "optional": {
        "light-asd-talkset": {
            "filename": "light_asd_finetuning_TalkSet.model",
            "size": 4175289,
            "sha256": "efc375833887eefa9d209dc92810e18519b04c3c73ea35a549f2a7f40b7d94d5",
            "urls": [f"{_LIGHT_ASD}/finetuning_TalkSet.model"],
        },
        "light-asd-ava": {
            "filename": "light_asd_pretrain_AVA_CVPR.model",
            "size": 4175289,
            "sha256": "d44bc3ea7baa8e0946fa3921311714a630ed8b90a1928fab0dbe30d918909317",
            "urls": [f"{_LIGHT_ASD}/pretrain_AVA_CVPR.model"],
        },
        # LPIPS (--lpips): torchvision's ImageNet backbones (the hash prefix in each name is the
        # first 8 hex digits of its sha256, torch.hub's convention; the sizes match torchvision's
        # `_file_size` metadata, 233.087 and 527.796 MiB) and the lpips package's v0.1 linear
        # heads, byte-identical to the files in its 0.1.4 wheel (git blobs 1df9dfe6, 47e943cf).
        "alexnet-imagenet": {
            "filename": "alexnet-owt-7be5be79.pth",
            "size": 244408911,
            "sha256": "7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02",
            "urls": ["https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"],
            "licence": "BSD-3-Clause (torchvision)",
        },
        "vgg16-imagenet": {
            "filename": "vgg16-397923af.pth",
            "size": 553433881,
            "sha256": "397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0",
            "urls": ["https://download.pytorch.org/models/vgg16-397923af.pth"],
            "licence": "BSD-3-Clause (torchvision)",
        },
        "lpips-alex-v0.1": {
            "filename": "lpips_v0.1_alex.pth",
            "size": 6009,
            "sha256": "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
            "urls": [f"{_LPIPS}/alex.pth"],
            "licence": "BSD-2-Clause (richzhang/PerceptualSimilarity)",
        },
        "lpips-vgg-v0.1": {
            "filename": "lpips_v0.1_vgg.pth",
            "size": 7289,
            "sha256": "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
            "urls": [f"{_LPIPS}/vgg.pth"],
            "licence": "BSD-2-Clause (richzhang/PerceptualSimilarity)",
        },
        # FID's Inception-v3 (the TensorFlow 2015-12-05 graph, ported by pytorch-fid). Size and
        # sha256 as recorded by independent users of the file; the name's 6726825d is the
        # sha256 prefix (torch.hub's convention). torch-fidelity's release
        # weights-inception-2015-12-05-6726825d.pth has the same sha256: a byte-identical mirror.
        "fid": {
            "filename": "pt_inception-2015-12-05-6726825d.pth",
            "size": 95628359,
            "sha256": "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
            "urls": [
                (
                    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                    "pt_inception-2015-12-05-6726825d.pth"
                ),
                (
                    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                    "weights-inception-2015-12-05-6726825d.pth"
                ),
            ],
            "licence": "Apache-2.0 (TensorFlow models' Inception-v3 weights)",
        },
    },
}


@dataclass(frozen=True)
class WeightSpec:
    """One official weight file.

    Attributes:
        name: registry key, also the CLI option stem (``syncnet`` -> ``--syncnet-weights``).
        filename: file name in the weights directory and the cache.
        size: exact size, bytes.
        sha256: lowercase hex digest of the whole file.
        urls: download URLs, official first, then byte-identical mirrors.
        licence: the file's licence, where the manifest names one.
    """

    name: str
    filename: str
    size: int
    sha256: str
    urls: tuple[str, ...]
    licence: str | None = None


@dataclass(frozen=True)
class DownloadResult:
    """Where a download landed and which URL served it.

    Attributes:
        path: final path of the verified file.
        url: the URL the bytes came from.
    """

    path: Path
    url: str


def _registry_from_manifest(manifest: Mapping[str, Any], section: str) -> dict[str, WeightSpec]:
    return {
        name: WeightSpec(
            name=name,
            filename=entry["filename"],
            size=int(entry["size"]),
            sha256=entry["sha256"].lower(),
            urls=tuple(entry["urls"]),
            licence=entry.get("licence"),
        )
        for name, entry in manifest[section].items()
    }


# The files every score needs (`weights download` with no name fetches these).
REGISTRY: dict[str, WeightSpec] = _registry_from_manifest(_MANIFEST, "weights")
# Weights of optional features, fetched on first use or by name (the Light-ASD checkpoints).
OPTIONAL: dict[str, WeightSpec] = _registry_from_manifest(_MANIFEST, "optional")

# Other files fetched, verified and cached like the weights (never part of `weights download`):
# the published SyncNet demo clip, selftest's reference case (syncnet_python's data/example.avi,
# which demo_syncnet.py scores to offset 3, LSE-D 5.353, LSE-C 10.021 with syncnet_v2.model).
ASSETS: dict[str, WeightSpec] = {
    "demo": WeightSpec(
        name="demo",
        filename="example.avi",
        size=1111536,
        sha256="1724121b3a50141cfc9e77c034f7de914024d015b92762ae12d3e1a7151b8621",
        urls=("https://www.robots.ox.ac.uk/~vgg/software/lipsync/data/example.avi",),
    ),
}


def _spec(name: str) -> WeightSpec:
    for table in (REGISTRY, OPTIONAL, ASSETS):
        if name in table:
            return table[name]
    known = ", ".join(sorted([*REGISTRY, *OPTIONAL]))
    raise ModelWeightsError(f"unknown weights {name!r}; known weights: {known}")


# The option that takes a file of one's own instead of an optional entry, where it is not
# ``--<name>-weights``: the Light-ASD checkpoints, the row's LPIPS backbones and heads.
_OPTIONS = {
    "light-asd-talkset": "--asd-weights",
    "light-asd-ava": "--asd-weights",
    "alexnet-imagenet": "--lpips-weights",
    "vgg16-imagenet": "--lpips-weights",
    "lpips-alex-v0.1": "--lpips-heads",
    "lpips-vgg-v0.1": "--lpips-heads",
}


def weights_option(name: str) -> str:
    """The command-line option that takes a file of one's own instead of the official ``name``
    (``--syncnet-weights``, ``--asd-weights``, ``--fid-weights``, ``--lpips-heads``...)."""
    return _OPTIONS.get(name, f"--{name}-weights")


def _option(spec: WeightSpec) -> str:
    """The option that takes a file of one's own instead (weights only, not ASSETS)."""
    return weights_option(spec.name)


def _what(spec: WeightSpec) -> str:
    """What the file is, in words: ``syncnet weights``, ``the SyncNet demo clip``."""
    return "the SyncNet demo clip" if spec.name in ASSETS else f"{spec.name} weights"


def _by_hand(spec: WeightSpec, url: str, destination: Path) -> str:
    """How to put the file in place without this download: the command that fetches it (for
    weights), the URL to fetch by hand, and what to pass instead."""
    if spec.name in ASSETS:
        # `weights download` fetches weights only; the demo clip is selftest's default VIDEO.
        return (
            f"download {url} on a machine with internet access and copy it to {destination}, "
            "or give selftest a clip of your own: `syncnet-eval selftest VIDEO`"
        )
    command = "syncnet-eval weights download" + ("" if spec.name in REGISTRY else f" {spec.name}")
    licence = f" (licence: {spec.licence})" if spec.licence else ""
    return (
        f"run `{command}` on a machine with internet access or download {url} yourself{licence}, "
        f"then copy it to {destination} (or into the {WEIGHTS_ENV_VAR} directory), or pass "
        f"{_option(spec)} FILE"
    )


def _one_line(exc: BaseException) -> str:
    """A cause as a single line: URLError's reason, newlines and runs of spaces collapsed."""
    if isinstance(exc, urllib.error.HTTPError):
        text = f"HTTP {exc.code} {exc.reason}"
    elif isinstance(exc, urllib.error.URLError):
        text = str(exc.reason)
    else:
        text = str(exc)
    return " ".join(text.split()) or type(exc).__name__


def cache_dir() -> Path:
    """The user cache directory for weights.

    Returns:
        ``$XDG_CACHE_HOME/syncnet-eval`` when ``XDG_CACHE_HOME`` is set to an absolute path,
        else ``~/.cache/syncnet-eval``. The directory is not created.
    """
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says relative values are invalid and must be ignored.
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / _CACHE_SUBDIR


def search_dirs(cache: Path | None = None) -> list[Path]:
    """Directories searched for weights under their official names, in order.

    Args:
        cache: directory used instead of :func:`cache_dir` (for tests).

    Returns:
        The ``SYNCNET_EVAL_WEIGHTS`` directory when the variable is set, then the cache directory.
    """
    dirs: list[Path] = []
    env = os.environ.get(WEIGHTS_ENV_VAR, "")
    if env:
        env_dir = Path(env).expanduser()
        if not env_dir.is_dir():
            logger.warning("%s=%s is not a directory; ignoring it", WEIGHTS_ENV_VAR, env)
        dirs.append(env_dir)
    dirs.append(cache if cache is not None else cache_dir())
    return dirs


def find_weights(name: str, *, cache: Path | None = None) -> Path | None:
    """First existing file named like the official one in :func:`search_dirs`.

    Args:
        name: registry key (``syncnet`` or ``s3fd``).
        cache: directory used instead of :func:`cache_dir`.

    Returns:
        The path, or ``None`` when no search directory holds the file. Size and hash are not
        checked here.

    Raises:
        ModelWeightsError: ``name`` is not in the registry.
    """
    spec = _spec(name)
    for directory in search_dirs(cache):
        candidate = directory / spec.filename
        if candidate.is_file():
            return candidate
    return None


def resolve_weights(
    name: str,
    explicit: Path | None = None,
    *,
    offline: bool = False,
    progress: bool = True,
    target_dir: Path | None = None,
) -> Path:
    """Path of the weights to load, downloading the official file when none is found.

    Args:
        name: registry key (``syncnet`` or ``s3fd``).
        explicit: file given on the command line; used as is (not required to be the official
            one; see :func:`official_name`), never replaced by a fallback.
        offline: never download; a missing file is an error.
        progress: show a tqdm download bar on stderr.
        target_dir: cache directory, searched after ``SYNCNET_EVAL_WEIGHTS`` and used as the
            download destination; defaults to :func:`cache_dir`.

    Returns:
        Path of an existing weight file.

    Raises:
        ModelWeightsError: the explicit file does not exist, a file found by lookup is not the
            official one (size and sha256; the hash is cached by size and mtime), or the file
            is missing and cannot be downloaded (offline or no network).
    """
    spec = _spec(name)
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            what = "is a directory, not a file" if path.is_dir() else "does not exist"
            raise ModelWeightsError(
                f"{_option(spec)} {path}: {what}; pass an existing weight file or drop the "
                f"option to use the official {spec.filename}"
            )
        logger.info("using %s weights from %s (explicit, not hash-checked)", name, path)
        return path
    found = find_weights(name, cache=target_dir)
    if found is not None:
        verify_weights(found, spec)
        logger.info("using %s weights from %s (verified)", name, found)
        return found
    destination = target_dir if target_dir is not None else cache_dir()
    if offline:
        searched = ", ".join(str(d) for d in search_dirs(target_dir))
        raise ModelWeightsError(
            f"{spec.filename} ({_what(spec)}) not found in {searched} and offline mode forbids "
            f"downloading it; {_by_hand(spec, spec.urls[0], destination / spec.filename)}"
        )
    return download_weights(name, destination, progress=progress).path


def download_weights(
    name: str,
    target_dir: Path | None = None,
    *,
    urls: Sequence[str] | None = None,
    progress: bool = True,
    timeout_s: float = 30,
) -> DownloadResult:
    """Download, verify and atomically install an official weight file; report the URL used.

    Each URL is tried in order (official first, then mirrors). Nothing is created on disk until
    a server answers; then the bytes stream into a hidden ``.<filename>.*.part`` file in
    ``target_dir`` (created if needed); only a file with the official size and sha256 is fsynced
    and renamed onto the final path, replacing any file there. On any failure or interrupt the
    temporary file is removed and the final path is left untouched.

    Args:
        name: registry key (``syncnet`` or ``s3fd``).
        target_dir: destination directory, created if needed; defaults to :func:`cache_dir`.
        urls: URLs to try instead of the registry's.
        progress: show a tqdm bar on stderr.
        timeout_s: connect and per-read timeout, seconds.

    Returns:
        The final path and the URL that served it.

    Raises:
        ModelWeightsError: every URL failed (no network, HTTP error, truncated transfer, size or
            sha256 mismatch; the message names each URL and why), or the directory is not
            writable.
    """
    spec = _spec(name)
    directory = Path(target_dir if target_dir is not None else cache_dir()).expanduser()
    final = directory / spec.filename
    tried = tuple(urls) if urls is not None else spec.urls
    if not tried:
        raise ModelWeightsError(f"no download URL for {spec.filename} ({_what(spec)})")
    failures: list[str] = []
    last_exc: BaseException | None = None
    for url in tried:
        logger.info("downloading %s from %s", spec.filename, url)
        try:
            temp = _download_to_temp(url, spec, directory, progress=progress, timeout_s=timeout_s)
        except _FetchFailure as exc:
            logger.warning("download of %s from %s failed: %s", spec.filename, url, exc)
            failures.append(f"{url}: {exc}")
            last_exc = exc
            continue
        try:
            os.replace(temp, final)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        _fsync_dir(directory)
        logger.info("downloaded %s from %s to %s", spec.filename, url, final)
        return DownloadResult(path=final, url=url)
    raise ModelWeightsError(
        f"could not download {spec.filename} ({_what(spec)}): {'; '.join(failures)}; "
        f"to place it by hand, {_by_hand(spec, tried[0], final)}"
    ) from last_exc


class _FetchFailure(Exception):
    """One URL failed for a reason worth trying the next URL for; the message is one line."""


def _download_to_temp(
    url: str, spec: WeightSpec, directory: Path, *, progress: bool, timeout_s: float
) -> Path:
    """Stream ``url`` into a verified, fsynced temporary file in ``directory``; return its path.

    The directory and the file are created only once the server has answered.
    """
    try:
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if isinstance(exc, urllib.error.HTTPError):
            exc.close()  # it holds the error response's socket
        raise _FetchFailure(_one_line(exc)) from exc
    with response:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            # Not a with-block here: the name must outlive the handle for the rename.
            handle = tempfile.NamedTemporaryFile(  # noqa: SIM115
                dir=directory, delete=False, prefix="." + spec.filename + ".", suffix=".part"
            )
        except OSError as exc:
            raise ModelWeightsError(
                f"cannot write in weights directory {directory}: {_one_line(exc)}; set "
                f"{WEIGHTS_ENV_VAR} or XDG_CACHE_HOME to a writable directory"
            ) from exc
        temp = Path(handle.name)
        try:
            with handle:
                _stream(response, spec, handle, progress=progress)
            return temp
        except BaseException:
            temp.unlink(missing_ok=True)
            raise


def _stream(response: Any, spec: WeightSpec, out: IO[bytes], *, progress: bool) -> None:
    """Copy ``response`` into ``out``, hashing on the way; raise _FetchFailure on a bad
    transfer."""
    digest = hashlib.sha256()
    received = 0
    length_header = response.headers.get("Content-Length")
    expected_length = int(length_header) if length_header and length_header.isdigit() else None
    with tqdm(
        total=expected_length or spec.size,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=spec.filename,
        file=sys.stderr,
        disable=not progress,
    ) as bar:
        while True:
            try:
                chunk = response.read(_CHUNK_BYTES)
            except (OSError, http.client.HTTPException) as exc:
                raise _FetchFailure(
                    f"connection lost after {received} bytes ({_one_line(exc)})"
                ) from exc
            if not chunk:
                break
            received += len(chunk)
            if received > spec.size:
                # Stop early: an endless or wrong response must not fill the disk.
                raise _FetchFailure(
                    f"size mismatch: server sent more than the expected {spec.size} bytes "
                    f"(expected sha256 {spec.sha256})"
                )
            _write(out, chunk)
            digest.update(chunk)
            bar.update(len(chunk))
    # http.client does not raise when the peer closes before Content-Length; check it here.
    if expected_length is not None and received < expected_length:
        raise _FetchFailure(
            f"transfer interrupted: connection closed after {received} of {expected_length} bytes"
        )
    actual = digest.hexdigest()
    if received != spec.size or actual != spec.sha256:
        raise _FetchFailure(
            f"sha256 mismatch: expected {spec.sha256} ({spec.size} bytes), "
            f"got {actual} ({received} bytes)"
        )
    try:
        out.flush()
        os.fsync(out.fileno())
    except OSError as exc:
        raise ModelWeightsError(f"cannot write {out.name}: {_one_line(exc)}") from exc


def _write(out: IO[bytes], chunk: bytes) -> None:
    # A disk error would repeat for every mirror, so it is not a _FetchFailure.
    try:
        out.write(chunk)
    except OSError as exc:
        raise ModelWeightsError(
            f"cannot write {out.name}: {_one_line(exc)}; free some space "
            f"or set {WEIGHTS_ENV_VAR} or XDG_CACHE_HOME to another directory"
        ) from exc


def _fsync_dir(directory: Path) -> None:
    # Makes the rename durable on POSIX; directories cannot be opened this way on Windows.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def verify_weights(path: Path, spec: WeightSpec) -> None:
    """Check that ``path`` is the official file: size and sha256.

    Args:
        path: file to check.
        spec: the official file's description.

    Raises:
        ModelWeightsError: the file is missing or unreadable, or its size or sha256 differs; the
            message names the expected and the actual sha256.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        actual = weights_sha256(path)
    except OSError as exc:
        raise ModelWeightsError(f"cannot read {_what(spec)} {path}: {_one_line(exc)}") from exc
    if size != spec.size or actual != spec.sha256:
        if spec.name in ASSETS:
            fix = "delete it (it is fetched again on next use), or give selftest a clip of your own"
        else:
            command = "syncnet-eval weights download" + (
                "" if spec.name in REGISTRY else f" {spec.name}"
            )
            fix = (
                f"delete it and run `{command}`, or pass {_option(spec)} FILE to use it on purpose"
            )
        raise ModelWeightsError(
            f"{path} is not the official {spec.filename}: expected sha256 {spec.sha256} "
            f"({spec.size} bytes), got {actual} ({size} bytes); {fix}"
        )


_VERIFIED_CACHE = "verified-sha256.json"


def weights_sha256(path: Path) -> str:
    """sha256 of a weight file, remembered by resolved path, size and mtime.

    The record lives in the cache directory (``verified-sha256.json``); when it cannot be read
    or written the hash is simply computed. A file that changes gets a new size or mtime and is
    hashed again.

    Raises:
        OSError: the file cannot be read.
    """
    st = os.stat(path)
    key = os.path.realpath(path)
    stamp = [st.st_size, st.st_mtime_ns]
    record = cache_dir() / _VERIFIED_CACHE
    try:
        known = json.loads(record.read_text(encoding="utf-8"))
        if not isinstance(known, dict):
            known = {}
    except (OSError, ValueError):
        known = {}
    entry = known.get(key)
    if isinstance(entry, dict) and entry.get("stamp") == stamp and "sha256" in entry:
        return str(entry["sha256"])
    digest = file_sha256(path)
    known[key] = {"stamp": stamp, "sha256": digest}
    with contextlib.suppress(OSError):
        record.parent.mkdir(parents=True, exist_ok=True)
        tmp = record.with_name(f".{record.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known, indent=1), encoding="utf-8")
        os.replace(tmp, record)
    return digest


def official_name(sha256: str) -> str | None:
    """The registry name (``syncnet``, ``s3fd``, ``light-asd-talkset``...) of the official file
    with this hash, if any."""
    specs = {**REGISTRY, **OPTIONAL}
    return next((name for name, spec in specs.items() if spec.sha256 == sha256), None)


def weights_provenance(name: str, path: Path) -> dict[str, Any]:
    """What a record says about the weight file it was scored with.

    Args:
        name: registry key (``syncnet``, ``s3fd``...), the stem of the keys.
        path: the file used.

    Returns:
        ``{"<name>_weights": path, "<name>_weights_sha256": hex digest,
        "<name>_weights_official": whether it is the registry's file of that name}``.

    Raises:
        OSError: the file cannot be read.
    """
    digest = weights_sha256(path)
    return {
        f"{name}_weights": str(path),
        f"{name}_weights_sha256": digest,
        f"{name}_weights_official": official_name(digest) == name,
    }
