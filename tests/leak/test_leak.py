"""Leak tests: a modality's rendered arrays carry no more about the label than its ceiling.

Fast form (CI): the occluder check by construction, and the probes of tinymm.data.leak that
target a factor a modality hides (ceiling = chance), on 1500 + 1500 samples, next to positive
controls showing that the same probe reads the factor when it is shown. The thorough profile
(TINYMM_HYPOTHESIS_PROFILE=thorough) runs every probe of ``leak.PROBES`` on 10,000 + 10,000.
"""

import os

import numpy as np
import pytest

from tinymm.data import dataset_info, leak, list_datasets, shapes_captions

THOROUGH = os.environ.get("TINYMM_HYPOTHESIS_PROFILE") == "thorough"


def _ink_outside_the_occluder(image_size: int = 16) -> np.ndarray:
    """(N,) bool: does any pixel of a fully occluded, noise-free photo show the shape?

    An occluded photo is stripes (0.25 / 0.75) where the occluder is and the flat background
    elsewhere, unless part of the shape sticks out of the occluder."""
    ds = shapes_captions.build(size=3000, occlusion_prob=1.0, noise=0.0, image_size=image_size)
    img = ds.arrays["image"][:, 0].astype(np.float64)
    stripe = (np.abs(img - 0.25) < 1e-6) | (np.abs(img - 0.75) < 1e-6)
    background = np.where(stripe, np.inf, img).min(axis=(1, 2))        # darkest non-stripe pixel
    ink = ~stripe & (np.abs(img - background[:, None, None]) > 1e-6)
    return ink.any(axis=(1, 2)), ds.latents["shape"]


@pytest.mark.parametrize("image_size", [16, 24])
def test_full_occluder_hides_every_shape_including_the_triangles_corners(image_size):
    ink, _ = _ink_outside_the_occluder(image_size)
    assert not ink.any(), f"{ink.sum()} occluded photos show part of their shape"


def test_the_old_occluder_let_the_triangle_through(monkeypatch):
    """The check above can fail: with the occluder's old reach (radius + 1 px) the rotated
    triangle's base corners (1.35 radii from the centre) stick out, and only triangles do."""
    monkeypatch.setattr(shapes_captions, "_EXTENT", 1.0)
    ink, shape = _ink_outside_the_occluder()
    triangle = shapes_captions.SHAPES.index("triangle")
    assert ink[shape == triangle].mean() > 0.05
    assert not ink[shape != triangle].any()


HIDDEN = [p for p in leak.PROBES if p.options and p.dataset in list_datasets()]


@pytest.mark.parametrize("probe", HIDDEN, ids=[p.name for p in HIDDEN])
def test_hidden_factor_is_not_readable(probe):
    result = leak.run_probe(probe)
    labels = np.arange(dataset_info(probe.dataset)["num_classes"])
    values = np.unique((probe.factor or (lambda y: y))(labels))
    assert result["ceiling"] == pytest.approx(1 / len(values), abs=1e-12)  # hidden: chance
    assert not result["leak"], result


CONTROLS = [  # the same probe, factor shown: it must read it well above chance
    (leak.Probe("shapes_captions", "image", "shape", {"occlusion_prob": 0.0}, lambda y: y // 3),
     0.6),
    (leak.Probe("video_events", "video", "direction", {"static_prob": 0.0}, lambda y: y // 4),
     0.9),
    (leak.Probe("spoken_digits", "audio", "label", {"masked_prob": 0.0, "muffled_prob": 0.0}),
     0.6),
    (leak.Probe("sentiment_prosody", "audio", "label", {"flat_energy_prob": 0.0}), 0.8),
]


@pytest.mark.parametrize("probe, floor", CONTROLS, ids=[c[0].name for c in CONTROLS])
def test_probe_reads_a_factor_that_is_shown(probe, floor):
    result = leak.run_probe(probe)
    assert result["accuracy"] > floor, result
    assert not result["leak"], result


def test_probe_ceiling_from_the_enumeration():
    probe = leak.Probe("sentiment_prosody", "audio")
    assert leak.probe_ceiling(probe) == pytest.approx(0.7)
    hidden = leak.Probe("video_events", "audio", "pitch", {"silent_prob": 1.0},
                        lambda y: (y // 2) % 2)
    assert leak.probe_ceiling(hidden) == pytest.approx(0.5)
    table = leak.format_leak_table([{"probe": probe.name, "ceiling": 0.7, "accuracy": 0.69,
                                     "interval": [0.66, 0.72], "leak": False}])
    assert "sentiment_prosody: audio -> label" in table and "0.7000" in table


@pytest.mark.skipif(not THOROUGH, reason="thorough profile only (10,000-sample probes); "
                    "the fast form runs above")
@pytest.mark.parametrize("probe", [p for p in leak.PROBES if p.dataset in list_datasets()],
                         ids=[p.name for p in leak.PROBES if p.dataset in list_datasets()])
def test_no_probe_beats_its_ceiling_thorough(probe):
    result = leak.run_probe(probe, n_train=10000, n_test=10000, n_features=500)
    assert not result["leak"], result
