"""Collecting inputs: directory scans, globs, manifests, ids, identities (``inputs.py``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syncnet_eval.engines.scorer import crops_names
from syncnet_eval.errors import InputError
from syncnet_eval.inputs import BatchInput, collect_inputs, input_identity, read_manifest


def test_scan_directory_finds_videos_recursively_in_order(tmp_path: Path) -> None:
    for rel in ("b.mp4", "a.MOV", "sub/c.avi", "sub/deep/d.mkv", "notes.txt", ".hidden.mp4"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    (tmp_path / "frames.mp4").mkdir()  # a directory named like a video: an input of its own
    (tmp_path / "frames.mp4" / "e.mp4").write_bytes(b"x")
    items = collect_inputs([tmp_path])
    assert [i.id for i in items] == ["a.MOV", "b.mp4", "frames.mp4", "sub/c.avi", "sub/deep/d.mkv"]
    assert all(i.path == tmp_path / i.id for i in items)


def test_glob_replaces_the_extension_filter(tmp_path: Path) -> None:
    for rel in ("x_224.mp4", "x_512.mp4", "sub/y_224.mp4", "z_224.y4m"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    items = collect_inputs([tmp_path], globs=["*_224.*"])
    assert [i.id for i in items] == ["sub/y_224.mp4", "x_224.mp4", "z_224.y4m"]


def test_files_dirs_and_manifest_keep_command_line_order(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "v.mp4").write_bytes(b"x")
    (tmp_path / "m").mkdir()
    manifest = tmp_path / "m" / "list.csv"
    manifest.write_text(
        "path,audio,id,group\nclips/one.mp4,sound/one.wav,one,A\n,,,\n/abs/two.mp4,,,B\n",
        encoding="utf-8",
    )
    items = collect_inputs([tmp_path / "missing.mp4", tmp_path / "d"], manifest=manifest)
    missing = tmp_path / "missing.mp4"
    assert items[0] == BatchInput(missing, id=missing.as_posix())  # a file's id: as given
    assert items[1] == BatchInput(tmp_path / "d" / "v.mp4", id="v.mp4")
    assert items[2] == BatchInput(
        tmp_path / "m" / "clips/one.mp4", tmp_path / "m" / "sound/one.wav", "one", "A"
    )
    assert items[3] == BatchInput(Path("/abs/two.mp4"), None, "/abs/two.mp4", "B")
    assert len(items) == 4


def test_manifest_without_path_column_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "bad.csv"
    manifest.write_text("file,id\na.mp4,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="'path' column"):
        read_manifest(manifest)


def test_input_identity_tracks_size_mtime_and_content(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"abc")
    first = input_identity(BatchInput(video))
    assert first["path"] == str(video.resolve()) and first["size"] == 3
    os.utime(video, ns=(1, first["mtime_ns"] + 10**9))
    assert input_identity(BatchInput(video)) != first
    hashed = input_identity(BatchInput(video), "sha256")
    os.utime(video, ns=(1, 5))
    assert input_identity(BatchInput(video), "sha256") == hashed  # mtime is not part of it
    video.write_bytes(b"abd")
    assert input_identity(BatchInput(video), "sha256") != hashed
    missing = input_identity(BatchInput(tmp_path / "nope.mp4", audio_path=video))
    assert missing["size"] is None and missing["audio"]["size"] == 3


def test_manifest_ids_unique_quoted_newlines_kept_and_empty_rows_recorded(tmp_path: Path) -> None:
    manifest = tmp_path / "list.csv"
    manifest.write_text(
        'path,id\n"two\nlines.mp4",a\n,b\nx.mp4,\n', encoding="utf-8"
    )  # a quoted newline in a name, a row without a path, a row without an id
    items = read_manifest(manifest)
    assert items[0].path == tmp_path / "two\nlines.mp4" and items[0].id == "a"
    assert items[1].error is not None and "no path" in items[1].error and items[1].id == "b"
    assert items[2].id == "x.mp4"  # the row's path when it has no id
    manifest.write_text("path,id\na.mp4,same\nb.mp4,other\nc.mp4,same\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"'same' on lines 2, 4"):
        read_manifest(manifest)


def test_same_names_in_two_folders_get_different_ids_and_crop_names(tmp_path: Path) -> None:
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "clip.mp4").write_bytes(b"x")
    items = collect_inputs([tmp_path / "a", tmp_path / "b", tmp_path / "a" / "clip.mp4"])
    assert len(items) == 2  # the file listed twice is scored once
    assert [i.id for i in items] == [f"{(tmp_path / d).as_posix()}/clip.mp4" for d in "ab"]
    names = crops_names(items)
    assert len(set(names)) == 2 and all(n.endswith("/clip") for n in names)
    assert not any(n.startswith("/") or ".." in n for n in names)
    (tmp_path / "c.mp4").write_bytes(b"x")
    assert crops_names(collect_inputs([tmp_path / "c.mp4"])) == ["c"]


def test_scans_skip_the_runs_own_outputs(tmp_path: Path) -> None:
    (tmp_path / "v.mp4").write_bytes(b"x")
    (tmp_path / "crops").mkdir()
    (tmp_path / "crops" / "v_00000.avi").write_bytes(b"x")
    (tmp_path / "old_report.mp4").write_bytes(b"x")
    items = collect_inputs([tmp_path], exclude=[tmp_path / "crops", tmp_path / "old_report.mp4"])
    assert [i.id for i in items] == ["v.mp4"]
