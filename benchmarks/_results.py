"""Writing a benchmark's result JSON (shared by the scripts in this folder)."""
from __future__ import annotations

import json
from pathlib import Path


def save_result(result: dict, out: str | None) -> None:
    """Write `result` to `out` (folders created) and say where; nothing when `out` is None."""
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out}")
