"""isolation-harness: replay build-isolation bugs and record whether the isolation held."""

from __future__ import annotations

__version__ = "0.1.0"
