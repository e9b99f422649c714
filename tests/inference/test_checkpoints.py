"""Checkpoints of a spectral fit: a finished channel is reused only for the same fit."""

import numpy as np

from jrfit.inference.checkpoints import checkpoint_key, load_checkpoint, save_checkpoint
from jrfit.inference.leakage import LeakageKernel
from jrfit.inference.priors import SpectralPriors
from jrfit.inference.spectral import FitConfig


def test_a_checkpoint_is_loaded_only_under_its_key(tmp_path):
    freqs = np.arange(2.0, 10.0, 0.5)
    kernel = LeakageKernel.identity(freqs, "none")
    y = np.linspace(1.0, 2.0, freqs.size)
    key = checkpoint_key(y, 30.0, kernel, SpectralPriors(), FitConfig(), 0)
    assert key == checkpoint_key(y.copy(), 30.0, kernel, SpectralPriors(), FitConfig(), 0)
    assert key != checkpoint_key(y * 1.01, 30.0, kernel, SpectralPriors(), FitConfig(), 0)
    assert key != checkpoint_key(y, 30.0, kernel, SpectralPriors(), FitConfig(seed=1), 0)
    assert load_checkpoint(tmp_path, "Oz", key) is None  # nothing saved yet
    save_checkpoint(tmp_path / "ck", "Oz", key, dict(time=1.5))
    assert load_checkpoint(tmp_path / "ck", "Oz", key) == dict(time=1.5)
    assert load_checkpoint(tmp_path / "ck", "Oz", "another key") is None
    assert load_checkpoint(tmp_path / "ck", "Pz", key) is None
    for f in (tmp_path / "ck").iterdir():  # a damaged file is not a checkpoint
        f.write_bytes(b"not a pickle")
    assert load_checkpoint(tmp_path / "ck", "Oz", key) is None
