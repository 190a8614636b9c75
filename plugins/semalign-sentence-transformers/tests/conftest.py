"""Offline by default: a hub call without these variables can hang for 30 s."""

from __future__ import annotations

import os

for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "SEMALIGN_OFFLINE"):
    os.environ.setdefault(_var, "1")
