"""The published demo result with the official syncnet_v2.model, wherever that file is present."""

from __future__ import annotations

import pytest

from syncnet_eval import ScoreConfig, SyncPipeline
from syncnet_eval.models import weights as wm

from conftest import MEDIA_DIR

MEDIA = MEDIA_DIR


@pytest.mark.weights
def test_demo_clip_gives_published_numbers() -> None:
    path = wm.find_weights("syncnet")
    if path is None:
        pytest.skip(
            "official syncnet_v2.model not present (run 'syncnet-eval weights download syncnet' "
            "or set SYNCNET_EVAL_WEIGHTS)"
        )
    wm.verify_weights(path, wm.REGISTRY["syncnet"])
    pipe = SyncPipeline(ScoreConfig(), syncnet_weights=path, offline=True)
    result = pipe.evaluate(MEDIA / "syncnet_example.avi", "direct", raise_unexpected=True)
    assert result.status == "ok"
    assert result.av_offset == 3
    assert result.lse_d == pytest.approx(5.353, abs=1e-3)
    assert result.lse_c == pytest.approx(10.021, abs=1e-3)
