"""Replays the fuzz corpus and every input that once crashed or failed (tests/fuzz/) through the fuzz
harness's checks, so a regression fails here, also under the ASan + UBSan build in .ci/run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parent / "fuzz"
sys.path.insert(0, str(FUZZ))
import fuzz_core  # noqa: E402

INPUTS = sorted(p for d in ("regressions", "corpus") for p in (FUZZ / d).iterdir() if p.is_file())


def test_there_are_regression_inputs():
    assert any(p.parent.name == "regressions" for p in INPUTS)


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: f"{p.parent.name}/{p.name[:16]}")
def test_replay(path):
    fuzz_core.one_input(path.read_bytes())
