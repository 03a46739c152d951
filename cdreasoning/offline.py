"""No network from cdreasoning: the Hugging Face offline switches, set before huggingface_hub reads them.

`import cdreasoning` imports this module first. When the user has not set them, it sets `HF_HUB_OFFLINE=1` and
`TRANSFORMERS_OFFLINE=1`, so a mistyped checkpoint path fails at once instead of being retried as a Hub id for
about 47 s. huggingface_hub reads `HF_HUB_OFFLINE` once, when it is imported; setting the variable later (as
entry points used to) has no effect in a process that imported transformers already. So, if huggingface_hub was
imported before cdreasoning, its already-read constant is set as well.

Opt out with `CDREASONING_ALLOW_HUB=1` (cdreasoning then leaves both variables alone), or set `HF_HUB_OFFLINE=0`
yourself: a value the user set is never changed.
"""

from __future__ import annotations

import os
import sys

__all__ = ["OPT_OUT_VARIABLE", "apply_offline_default", "hub_allowed"]

OPT_OUT_VARIABLE = "CDREASONING_ALLOW_HUB"


def hub_allowed() -> bool:
    """True when the user opted out of the offline default (`CDREASONING_ALLOW_HUB=1`)."""
    return os.environ.get(OPT_OUT_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def apply_offline_default() -> None:
    """Set the offline variables unless the user set them or opted out (see the module docstring)."""
    if hub_allowed():
        return
    hub_was_unset = "HF_HUB_OFFLINE" not in os.environ
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    constants = sys.modules.get("huggingface_hub.constants")
    if hub_was_unset and constants is not None and hasattr(constants, "HF_HUB_OFFLINE"):
        # imported before us: it read the environment without the variable
        constants.HF_HUB_OFFLINE = True


apply_offline_default()
