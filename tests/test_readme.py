"""The README's Python API block runs as written: verbatim, as a script, in a subprocess."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_api_block() -> str:
    """The first ```python block after the "## Python API" heading."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Python API") :]
    match = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert match, "README's Python API section has no python block"
    return match.group(1)


def test_readme_python_api_block_runs_verbatim(tmp_path):
    from vidscope import make_collisions

    data = make_collisions(tmp_path / "gen", n_videos=12, seed=3)
    work = tmp_path / "work"
    shutil.copytree(data.videos_dir, work / "videos")
    shutil.copy(data.labels_csv, work / "labels.csv")
    (work / "new_videos").mkdir()
    for clip in sorted(data.videos_dir.glob("*.mp4"))[:2]:
        shutil.copy(clip, work / "new_videos" / clip.name)
    shutil.copy(data.long_video, work / "long.mp4")
    shutil.copy(sorted(data.videos_dir.glob("*.mp4"))[0], work / "clip.mp4")
    script = work / "readme_api.py"
    script.write_text(
        readme_api_block()
        + "\n    print('DF', len(df), list(df.columns))"
        + "\n    print('LINES', len(lines), batch.frames.shape)\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=work, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "DF 2 ['id', 'score', 'label']" in proc.stdout
    assert "LINES 1 (8, 224, 224, 3)" in proc.stdout
    assert (work / "run" / "config.json").exists() and (work / "tl" / "report.html").exists()
    assert len(pd.read_csv(work / "demo-data" / "labels.csv")) == 40
