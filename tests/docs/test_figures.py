"""docs/figures/make_figures.py draws every figure the pages show, from tinymm's outputs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "figures" / "make_figures.py"


def test_every_figure_is_drawn(tmp_path):
    pytest.importorskip("matplotlib")
    spec = importlib.util.spec_from_file_location("make_figures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    made = module.main(tmp_path)  # the LSTM figure also checks a hand-run cell against tinymm
    assert sorted(p.name for p in made) == ["attention.png", "im2col.png", "lstm_gates.png"]
    for path in made:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    shipped = {p.name for p in SCRIPT.parent.glob("*.png")}
    pages = "".join(p.read_text() for p in SCRIPT.parents[1].rglob("*.md"))
    for name in shipped:
        assert f"figures/{name}" in pages, f"{name} is drawn but no page shows it"
