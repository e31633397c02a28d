"""The package version (one place; ``syncnet_eval.__version__`` re-exports it), and the versions
of the installed packages that can move a number, for every record's provenance."""

from __future__ import annotations

import functools
import importlib.metadata

__version__ = "0.1.0"

# Distributions whose version can move a recorded number: the network and its arithmetic
# (torch, numpy), signal processing and resampling (scipy), decoding (PyAV's "av"), resizing
# and the crops (opencv), PSNR/SSIM (scikit-image), landmarks and the HOG detector (dlib,
# face_alignment). A distribution may be installed under several names (dlib-bin, dlib).
NUMBER_PACKAGES: dict[str, tuple[str, ...]] = {
    "torch": ("torch",),
    "numpy": ("numpy",),
    "scipy": ("scipy",),
    "av": ("av",),
    "opencv": ("opencv-python-headless", "opencv-python", "opencv-contrib-python"),
    "scikit-image": ("scikit-image",),
    "dlib": ("dlib-bin", "dlib"),
    "face-alignment": ("face-alignment",),
}


@functools.cache
def package_version(name: str) -> str | None:
    """The installed version of one of :data:`NUMBER_PACKAGES` (``None`` when absent)."""
    for dist in NUMBER_PACKAGES[name]:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def package_versions(*names: str) -> dict[str, str]:
    """``{name: version}`` of the named :data:`NUMBER_PACKAGES` that are installed (all of them
    when none is named); a package that is not installed is left out."""
    chosen = names or tuple(NUMBER_PACKAGES)
    return {n: v for n in chosen if (v := package_version(n)) is not None}
