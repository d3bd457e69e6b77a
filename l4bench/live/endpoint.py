"""Where one live engine instance listens."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One engine instance of a live cluster: its scheduler index and base URL (no trailing slash)."""

    instance_id: int
    url: str  # e.g. http://127.0.0.1:8001
    name: str = ""
