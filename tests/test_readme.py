"""The README's quick start runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_quick_start_runs(tmp_path: Path) -> None:
    """The Python block of the README runs and writes letters, decisions and the store."""
    (block,) = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(block.splitlines()) <= 25
    done = subprocess.run(
        [sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("Dunning run 2026-11-23")
    out = tmp_path / "out"
    assert any((out / "letters").glob("*.pdf"))
    assert (out / "decisions.csv").is_file()
    assert (out / "dunning.sqlite").is_file()
