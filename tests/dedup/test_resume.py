"""A dedup run killed at any moment (SIGKILL, a real crash) and run again ends with the same output as a run
that was never interrupted."""

import filecmp
import os
import shutil
import subprocess
import sys

import pytest

from helpers import CORPUS, kill_when

FILES = ["ko/nsmc_reviews.jsonl.zst", "ko/korsts.jsonl.zst", "ko/rust_book_ko.jsonl.zst",
         "en/rust_book_en.jsonl.zst", "en/docs_flask.jsonl.zst", "code/py_flask.jsonl.zst",
         "code/js_express.jsonl.zst", "code/rs_rust_book_listings.jsonl.zst"]


def _gecko(*args):
    return [sys.executable, "-m", "gecko_cli", "-q", "dedup", *args]


@pytest.fixture
def raw(tmp_path):
    folder = tmp_path / "raw"
    for rel in FILES:
        os.makedirs(folder / os.path.dirname(rel), exist_ok=True)
        shutil.copy(os.path.join(CORPUS, rel), folder / rel)
    return str(folder)


def test_killed_runs_resume_to_the_uninterrupted_result(raw, tmp_path):
    ref, out = str(tmp_path / "ref"), str(tmp_path / "out")
    subprocess.run(_gecko(raw, ref, "--keep-dropped", str(tmp_path / "ref_dropped")), check=True)
    cmd = _gecko(raw, out, "--keep-dropped", str(tmp_path / "dropped"), "--workers", "2")
    work = os.path.join(out, ".gecko-work")
    killed = 0
    for marker in ("signatures/done-00002.json", "pairs/done-00005.json", "filter/done-00001.json",
                   "filter/done-00004.json"):
        killed += kill_when(cmd, os.path.join(work, marker))
        assert not os.path.exists(os.path.join(out, "manifest.json"))
    assert killed >= 3, "the runs finished before they could be killed: use a larger input"
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for a, b in ((ref, out), (str(tmp_path / "ref_dropped"), str(tmp_path / "dropped"))):
        names = sorted(os.listdir(a))
        assert names == sorted(os.listdir(b))
        assert not [n for n in names if ".tmp-" in n]
        for name in names:
            assert filecmp.cmp(os.path.join(a, name), os.path.join(b, name), shallow=False), name
