"""bench/scale.py's memory figure is the wizevol process's own peak, whatever the bench process holds.

The README's "peak RSS at 1M records within 1.5x of that at 100k" rests on it. wait4's ru_maxrss, which the bench
read before, folds the spawning parent's peak into the child's (the child ran in the parent's memory until it
exec'd): after the bench had listed a 100k run's 1.2M cache keys, its 1M child "peaked" at 181 MB while /proc never
saw it above 75 MB.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import scale  # noqa: E402

BALLAST_MB = 300


def test_the_bench_reports_the_childs_own_peak_not_the_parents(tmp_path: Path) -> None:
    ballast = b"\x01" * (BALLAST_MB << 20)  # every page touched: this process's RSS is above 300 MB now
    # the trap is real here: a small child's ru_maxrss, as wait4 gives it, carries this process's peak
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    _, _, ru = os.wait4(proc.pid, 0)
    assert ru.ru_maxrss / 1024 >= BALLAST_MB

    result = scale.run(300, 2, 8, "stub", tmp_path)

    assert result["calls"] == 300 * 2 * 3 and result["pool"] == 300
    assert 30 < result["peak_rss_mb"] < 200  # wizevol with its imports: ~74 MB on this machine
    assert result["peak_rss_mb"] >= result["half_rss_mb"] > 0  # VmHWM bounds every sample taken of VmRSS
    assert len(ballast) == BALLAST_MB << 20


def test_sampled_keys_are_the_caches_keys(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "cache.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE responses (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    con.executemany("INSERT INTO responses VALUES (?, '{}')", ((f"k{i}",) for i in range(500)))
    con.execute("DELETE FROM responses WHERE rowid % 5 = 0")  # gaps in the rowids, as INSERT OR REPLACE leaves
    con.commit()
    con.close()
    keys = scale.sample_keys(db, 200)
    assert 0 < len(keys) <= 200 and len(set(keys)) == len(keys)
    assert set(keys) <= {f"k{i}" for i in range(500) if (i + 1) % 5}
