"""The model registry: offline sentences, per-device caching, tiny builders."""

from __future__ import annotations

import pytest

from workbench import models
from workbench.errors import InputError, ModelNotAvailable


@pytest.fixture
def empty_hf_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_missing_weights_give_one_sentence_naming_the_command(empty_hf_cache):
    with pytest.raises(ModelNotAvailable) as info:
        models.local_path("esmfold")
    msg = str(info.value)
    assert "workbench models pull esmfold" in msg and "\n" not in msg
    assert not models.is_cached("esmfold")


def test_pull_offline_is_a_clear_error(empty_hf_cache):
    with pytest.raises(ModelNotAvailable, match="Could not download 'esmfold'"):
        models.pull("esmfold")


def test_unknown_model():
    with pytest.raises(InputError, match="Unknown model 'gpt-17'"):
        models.get_spec("gpt-17")


def test_models_are_loaded_once_per_device_and_dtype():
    models.unload("tiny-transformer")
    before = models.load_counts["tiny-transformer"]
    a = models.load("tiny-transformer", "cpu", "float32")
    b = models.load("tiny-transformer", "cpu", "float32")
    assert a is b
    assert models.load_counts["tiny-transformer"] == before + 1
    c = models.load("tiny-transformer", "cpu", "bfloat16")
    assert c is not a and models.load_counts["tiny-transformer"] == before + 2
    import torch

    assert next(c.parameters()).dtype == torch.bfloat16 and next(a.parameters()).dtype == torch.float32


def test_list_reports_cache_state(empty_hf_cache):
    rows = {r["id"]: r for r in models.list_models()}
    assert rows["tiny-transformer"]["cached"] and rows["tiny-transformer"]["builtin"]
    assert rows["esmfold"]["cached"] is False and rows["esmfold"]["repo_id"] == "facebook/esmfold_v1"
