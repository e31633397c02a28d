"""Identity embeddings and CSIM (syncnet_eval.identity): the pure pieces against oracles, the
ArcFace network and alignment against insightface's own code (recorded by
scripts/record_arcface_reference.py), the dlib backend on real faces of ../shared/media."""

from __future__ import annotations

import hashlib
import itertools
import math
from pathlib import Path
from typing import Any
import warnings

import numpy as np
import pytest

from syncnet_eval.decode import iter_frames
from syncnet_eval.errors import ConfigError, ModelWeightsError
from syncnet_eval.identity import (
    ARCFACE_TEMPLATE,
    BACKENDS,
    DEFINITION,
    align_arcface,
    csim,
    five_points,
    load_identity,
    similarity_transform,
)

from conftest import MEDIA_DIR

# dlib's documented rule (dnn_face_recognition_ex): two descriptors closer than 0.6 (Euclidean)
# are the same person. Its descriptors have a length of about 1.45 (1.38-1.54 on the faces of
# ../shared/media), so for unit vectors the rule becomes cos > 1 - 0.6**2 / (2 * 1.45**2).
DLIB_SAME_PERSON_COS = 1 - 0.6**2 / (2 * 1.45**2)  # 0.914


# ---------------------------------------------------------------------------- pure functions


def test_csim_is_the_cosine_and_keeps_nan_rows() -> None:
    identity = np.array([3.0, 4.0])
    rows = np.array([[6.0, 8.0], [-3.0, -4.0], [4.0, -3.0], [np.nan, np.nan], [0.0, 0.0]])
    got = csim(rows, identity)
    assert got[:3] == pytest.approx([1.0, -1.0, 0.0], abs=1e-12)
    assert np.isnan(got[3]) and np.isnan(got[4])
    # an angle of 60 degrees
    assert csim(np.array([[1.0, math.sqrt(3.0)]]), np.array([[1.0, 0.0]]))[0] == pytest.approx(0.5)


def test_csim_refuses_mismatched_sizes() -> None:
    with pytest.raises(ValueError, match="identity"):
        csim(np.ones((2, 3)), np.ones(4))


def test_similarity_transform_recovers_a_planted_similarity() -> None:
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -5.0])
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    src = ARCFACE_TEMPLATE * 2 + 40
    dst = scale * src @ rot.T + shift
    matrix = similarity_transform(src, dst)
    assert matrix is not None
    np.testing.assert_allclose(matrix[:, :2], scale * rot, atol=1e-12)
    np.testing.assert_allclose(matrix[:, 2], shift, atol=1e-9)


def test_similarity_transform_matches_scikit_image() -> None:
    skimage_transform = pytest.importorskip("skimage.transform")
    src = np.array([[30.0, 40.0], [80.0, 45.0], [52.0, 70.0], [35.0, 95.0], [77.0, 99.0]])
    src += np.sin(np.arange(10.0)).reshape(5, 2) * 3  # not an exact similarity of the template
    tform = skimage_transform.SimilarityTransform()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # estimate() is deprecated in 0.26
        assert tform.estimate(src, ARCFACE_TEMPLATE)
    matrix = similarity_transform(src, ARCFACE_TEMPLATE)
    assert matrix is not None
    np.testing.assert_allclose(matrix, tform.params[:2], atol=1e-10)


def test_degenerate_points_have_no_alignment() -> None:
    same = np.tile([[50.0, 50.0]], (5, 1))
    line = np.stack([np.arange(5.0), 2 * np.arange(5.0)], axis=1)
    assert similarity_transform(same, ARCFACE_TEMPLATE) is None
    assert similarity_transform(line, ARCFACE_TEMPLATE) is None
    assert similarity_transform(np.full((5, 2), np.nan), ARCFACE_TEMPLATE) is None


def test_five_points_follow_the_68_point_scheme() -> None:
    lm = np.zeros((68, 2))
    lm[36], lm[39] = [10, 20], [20, 22]  # the image-left eye's corners
    lm[42], lm[45] = [40, 20], [50, 18]
    lm[30], lm[48], lm[54] = [30, 35], [15, 50], [45, 52]
    np.testing.assert_allclose(five_points(lm), [[15, 21], [45, 19], [30, 35], [15, 50], [45, 52]])


def test_aligning_the_template_itself_is_the_identity_warp() -> None:
    frame = np.arange(112 * 112 * 3, dtype=np.uint32).reshape(112, 112, 3).astype(np.uint8)
    crop = align_arcface(frame, ARCFACE_TEMPLATE)
    assert crop is not None
    np.testing.assert_array_equal(crop, frame)


# ---------------------------------------------------------- insightface parity (recorded)


def test_alignment_matches_insightface_norm_crop(
    arcface_recipe: Any, arcface_reference: dict[str, Any]
) -> None:
    import cv2

    frame = arcface_recipe.pattern_frame()
    assert arcface_recipe.point_sets() == [r["points"] for r in arcface_reference["alignment"]]
    for record in arcface_reference["alignment"]:
        points = np.array(record["points"], dtype=np.float32).astype(np.float64)
        matrix = similarity_transform(points, ARCFACE_TEMPLATE)
        assert matrix is not None
        # insightface hands scikit-image float32 points, which it solves in float32: its
        # matrix is off ours (float64) by up to ~2e-5
        np.testing.assert_allclose(matrix, record["matrix"], atol=5e-5)
        theirs = cv2.warpAffine(frame, np.array(record["matrix"]), (112, 112), borderValue=0.0)
        # norm_crop is this warp of that matrix, byte for byte
        assert hashlib.sha256(theirs.tobytes()).hexdigest() == record["crop_sha256"]
        crop = align_arcface(frame, points)
        assert crop is not None
        # so a handful of pixels round the other way, by one level
        diff = np.abs(crop.astype(np.int16) - theirs.astype(np.int16))
        assert diff.max() <= 1 and np.count_nonzero(diff) <= 0.001 * diff.size


def _seeded_weights(recipe: Any, arch: str, folder: Path) -> Path:
    """An arcface_torch-format file of ``arch`` with the recipe's seeded weights."""
    import torch

    from syncnet_eval.models.iresnet import IRESNET_LAYERS, IResNet

    net = IResNet(IRESNET_LAYERS[arch])
    path = folder / f"{arch}_seeded.pth"
    torch.save(recipe.seeded_state(net.state_dict(), recipe.SEED), path)
    return path


@pytest.fixture(scope="module")
def iresnet18_weights(arcface_recipe: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _seeded_weights(arcface_recipe, "iresnet18", tmp_path_factory.mktemp("arcface"))


@pytest.mark.parametrize(
    "arch",
    [
        "iresnet18",
        pytest.param("iresnet50", marks=pytest.mark.slow),
        pytest.param("iresnet100", marks=pytest.mark.slow),
    ],
)
def test_iresnet_matches_insightface(
    arch: str,
    arcface_recipe: Any,
    arcface_reference: dict[str, Any],
    iresnet18_weights: Path,
    tmp_path: Path,
) -> None:
    if arch == "iresnet18":
        weights = iresnet18_weights
    else:
        weights = _seeded_weights(arcface_recipe, arch, tmp_path)
    embedder = load_identity("arcface", weights)
    assert embedder.dim == 512
    assert embedder.protocol["network"] == f"insightface arcface_torch {arch}, 512-d"
    got = embedder.embed_crops(arcface_recipe.pattern_crops())  # type: ignore[attr-defined]
    want = np.array(arcface_reference["embeddings"][arch])
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert np.linalg.norm(got, axis=1) == pytest.approx([1.0, 1.0])


# ------------------------------------------------------------------------ loading and errors


def test_arcface_without_weights_names_the_option_and_the_licence() -> None:
    with pytest.raises(ModelWeightsError) as err:
        load_identity("arcface")
    message = str(err.value)
    assert "--identity-weights FILE" in message
    assert "non-commercial research only" in message
    assert "\n" not in message


def test_arcface_refuses_weights_of_another_network(tmp_path: Path) -> None:
    import torch

    path = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(4, 3, 3, 3)}, path)
    with pytest.raises(ModelWeightsError, match="not an arcface_torch IResNet"):
        load_identity("arcface", path)
    with pytest.raises(ModelWeightsError, match="no such file"):
        load_identity("arcface", tmp_path / "absent.pth")


def test_unknown_backend_lists_the_backends() -> None:
    assert BACKENDS == ("dlib", "arcface")
    with pytest.raises(ConfigError, match="dlib"):
        load_identity("facenet")


def test_definition_names_the_paper_and_both_backends() -> None:
    assert "HyperReenact" in DEFINITION and "Sec. 4.1" in DEFINITION
    assert "'arcface'" in DEFINITION and "'dlib'" in DEFINITION


# ------------------------------------------------------------- dlib backend on real faces


def _frames(name: str, indices: list[int]) -> np.ndarray:
    """RGB frames ``indices`` of a clip of ../shared/media."""
    path = MEDIA_DIR / name
    if not path.is_file():
        pytest.skip(f"{path} not found")
    chunks = iter_frames(path, jpeg_roundtrip=False, chunk_frames=8)
    bgr = np.concatenate(list(itertools.islice(chunks, max(indices) // 8 + 1)))
    return np.ascontiguousarray(bgr[indices][..., ::-1])


@pytest.fixture(scope="module")
def dlib_embedder() -> Any:
    pytest.importorskip("dlib")
    return load_identity("dlib")


def test_dlib_csim_of_a_video_against_itself_and_another_person(dlib_embedder: Any) -> None:
    katie = _frames("hdtf_WDA_KatieHill_000.mp4", [0, 12, 24])
    bob = _frames("hdtf_WDA_BobMenendez_000.mp4", [0, 12, 24])
    identity = dlib_embedder.embed(katie[:1], None)[0]  # the source image: her first frame
    same = csim(dlib_embedder.embed(katie, None), identity)
    other = csim(dlib_embedder.embed(bob, None), identity)
    assert dlib_embedder.dim == 128 and dlib_embedder.protocol["backend"] == "dlib"
    assert same[0] >= 0.999  # the identity frame itself
    assert (same > DLIB_SAME_PERSON_COS).all()  # her later frames: the same person by dlib's rule
    assert (other < DLIB_SAME_PERSON_COS).all()  # another person
    assert same.min() - other.max() > 0.1


def test_dlib_given_boxes_and_missing_faces(dlib_embedder: Any) -> None:
    import dlib

    frames = _frames("retalking_face_5.mp4", [0, 10])
    found = dlib.get_frontal_face_detector()(frames[0], 1)
    rect = max(found, key=lambda r: r.area())
    box = [rect.left(), rect.top(), rect.right(), rect.bottom()]
    searched = dlib_embedder.embed(frames, None)
    boxes = np.array([box, [np.nan] * 4], dtype=np.float64)
    boxed = dlib_embedder.embed(frames, boxes)
    assert csim(boxed[:1], searched[0])[0] >= 0.999  # the detector's own box: the same face
    assert np.isnan(boxed[1]).all()  # no box, no embedding
    blank = np.zeros((1, 120, 160, 3), dtype=np.uint8)
    assert np.isnan(dlib_embedder.embed(blank, None)).all()
    assert np.isnan(csim(dlib_embedder.embed(blank, None), searched[0])).all()


@pytest.mark.slow
def test_arcface_embeds_real_frames_end_to_end(iresnet18_weights: Path) -> None:
    pytest.importorskip("dlib")
    embedder = load_identity("arcface", iresnet18_weights)
    frames = _frames("syncnet_example.avi", [0])
    blank = np.zeros((1, *frames.shape[1:]), dtype=np.uint8)
    out = embedder.embed(np.concatenate([frames, blank]), None)
    assert out.shape == (2, 512) and out.dtype == np.float64
    assert np.linalg.norm(out[0]) == pytest.approx(1.0)
    assert np.isnan(out[1]).all()
    crop = embedder.crops(frames, None)[0]  # type: ignore[attr-defined]
    assert crop is not None and crop.shape == (112, 112, 3)
