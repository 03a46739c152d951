"""Case 6: strict loading on every path, and no network from Python.

- `AutoModelForCausalLM.from_pretrained` (the class `import cdreasoning` registers) refuses a checkpoint with a
  missing or an unexpected weight, as `load_pretrained` does, instead of initialising the missing one randomly.
- `import cdreasoning` sets the offline switches before huggingface_hub reads them, so from plain Python (no
  HF_HUB_OFFLINE set) a mistyped path fails at once; `CDREASONING_ALLOW_HUB=1` opts out; a value the user set
  is kept.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file, save_file

import cdreasoning.model  # noqa: F401 - registers mplug_owl2 with the Auto classes
from cdreasoning.model import CheckpointError


def _edited_checkpoint(source, folder, edit):
    shutil.copytree(source, folder)
    state = load_file(folder / "model.safetensors")
    edit(state)
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    return folder


def test_automodel_refuses_a_missing_weight(tiny_checkpoint, tmp_path):
    from transformers import AutoModelForCausalLM

    folder = _edited_checkpoint(tiny_checkpoint, tmp_path / "ckpt", lambda s: s.pop("model.norm.weight"))
    with pytest.raises(CheckpointError, match=r"Missing 1: \[model.norm.weight\]"):
        AutoModelForCausalLM.from_pretrained(folder)


def test_automodel_refuses_an_unexpected_weight(tiny_checkpoint, tmp_path):
    from transformers import AutoModelForCausalLM

    def add(state):
        state["model.extra.weight"] = torch.zeros(2)

    folder = _edited_checkpoint(tiny_checkpoint, tmp_path / "ckpt", add)
    with pytest.raises(CheckpointError, match=r"Unexpected 1: \[model.extra.weight\]"):
        AutoModelForCausalLM.from_pretrained(folder)


def test_automodel_loads_a_complete_checkpoint_like_load_pretrained(tiny_checkpoint):
    from transformers import AutoModelForCausalLM

    from cdreasoning import load_pretrained

    model, info = AutoModelForCausalLM.from_pretrained(tiny_checkpoint, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    reference = load_pretrained(tiny_checkpoint).state_dict()
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, reference[name]), name


_PROBE = (
    "import time, sys\n"
    "{before}"
    "import cdreasoning, huggingface_hub.constants as c\n"
    "print('offline', c.HF_HUB_OFFLINE)\n"
    "from transformers import AutoModelForCausalLM\n"
    "start = time.perf_counter()\n"
    "try:\n"
    "    AutoModelForCausalLM.from_pretrained('no-such-org/mistyped-model')\n"
    "except Exception as exc:\n"
    "    print('failed', type(exc).__name__)\n"
    "print('seconds', round(time.perf_counter() - start, 1))\n"
)


def _probe(env_changes: dict, before: str = "") -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(env_changes)
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(before=before)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return dict(line.split(" ", 1) for line in out.stdout.splitlines())


@pytest.mark.parametrize(
    "before", ["", "import transformers\n"], ids=["cdreasoning-first", "transformers-first"]
)
def test_import_cdreasoning_makes_the_hub_offline(before):
    start = time.perf_counter()
    result = _probe({}, before)
    assert result["offline"] == "True"
    assert result["failed"] == "OSError"
    assert float(result["seconds"]) < 5, result  # not the ~47 s of hub retries
    assert time.perf_counter() - start < 120


def test_offline_default_can_be_opted_out_and_respects_the_user():
    assert _probe({"CDREASONING_ALLOW_HUB": "1", "HF_HUB_OFFLINE": "1"})["offline"] == "True"
    # opted out: the variables are left alone (the user's own value is read by huggingface_hub)
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env["CDREASONING_ALLOW_HUB"] = "1"
    out = subprocess.run(
        [sys.executable, "-c", "import cdreasoning, os; print(os.environ.get('HF_HUB_OFFLINE'))"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.stdout.strip() == "None"
    env["CDREASONING_ALLOW_HUB"] = ""
    env["HF_HUB_OFFLINE"] = "0"
    out = subprocess.run(
        [sys.executable, "-c", "import cdreasoning, os; print(os.environ.get('HF_HUB_OFFLINE'))"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.stdout.strip() == "0"
