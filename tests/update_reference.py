"""Refresh tests/reference from the shared regression suite (../shared/reference by default)."""

import shutil
import sys
from pathlib import Path

src = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "reference"
dst = Path(__file__).resolve().parent / "reference"
for item in src.iterdir():
    target = dst / item.name
    if target.is_dir():
        shutil.rmtree(target)
    if item.is_dir():
        shutil.copytree(item, target)
    else:
        shutil.copy2(item, target)
print(f"copied {src} -> {dst}")
