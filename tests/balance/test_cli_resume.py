"""`gecko balance` as a user runs it: exit codes and messages, and a real kill followed by a rerun."""

import filecmp
import os
import shutil
import subprocess
import sys

from helpers import CORPUS, kill_when

FILES = ["ko/nsmc_reviews.jsonl.zst", "ko/korsts.jsonl.zst", "ko/rust_book_ko.jsonl.zst",
         "en/rust_book_en.jsonl.zst", "en/docs_flask.jsonl.zst", "en/tiny_shakespeare.jsonl.zst",
         "code/py_flask.jsonl.zst", "code/js_express.jsonl.zst"]


def _gecko(cwd, *args):
    return subprocess.run([sys.executable, "-m", "gecko_cli", *args], cwd=cwd, capture_output=True, text=True)


def _user_error(done, *phrases):
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("error: ") and "\nhint: " in done.stderr
    assert "Traceback" not in done.stderr
    for phrase in phrases:
        assert phrase in done.stderr


def test_missing_default_input_names_the_stage_that_makes_it(tmp_path):
    _user_error(_gecko(tmp_path, "balance"), "clean not found", "gecko dedup")


def test_bad_mix_and_flags(tmp_path):
    (tmp_path / "clean").mkdir()
    _user_error(_gecko(tmp_path, "balance", "--mix", "ko=0.5,en=0.3"), "sum to 0.8")
    _user_error(_gecko(tmp_path, "balance", "--mix", "ko=0.5,fr=0.5"), "unknown language 'fr'")
    _user_error(_gecko(tmp_path, "balance", "--rule", "min_chars=lots"), "min_chars")
    assert _gecko(tmp_path, "balance", "--by", "words").returncode == 2


def test_killed_runs_resume_to_the_uninterrupted_result(tmp_path):
    raw = tmp_path / "raw"
    for rel in FILES:
        os.makedirs(raw / os.path.dirname(rel), exist_ok=True)
        shutil.copy(os.path.join(CORPUS, rel), raw / rel)
    args = ["--relabel", "--shard-size", "4MB"]
    ref = _gecko(tmp_path, "-q", "balance", str(raw), "ref", *args)
    assert ref.returncode == 0, ref.stderr
    cmd = [sys.executable, "-m", "gecko_cli", "-q", "balance", str(raw), str(tmp_path / "out"), *args, "--workers", "2"]
    work = tmp_path / "out" / ".gecko-work"
    killed = sum(kill_when(cmd, str(work / marker)) for marker in
                 ("scan/done-00002.json", "scan/done-00006.json", "plan/done.json", "gather/done-00001.json"))
    assert not (tmp_path / "out" / "manifest.json").exists()
    assert killed >= 3, "the runs finished before they could be killed: use a larger input"
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    names = sorted(os.listdir(tmp_path / "ref"))
    assert len(names) > 3 and names == sorted(os.listdir(tmp_path / "out"))
    for name in names:
        assert filecmp.cmp(tmp_path / "ref" / name, tmp_path / "out" / name, shallow=False), name


def test_a_run_does_not_load_pyarrow_compute_or_numpy_ma(tmp_path):
    # Importing pyarrow.compute takes 30 ms of every start: balance calls Arrow's functions through
    # gecko_cli.compute, and none of pyarrow's methods that would load it; pa.array of a numpy array loads
    # numpy.ma (7 ms): compute.array makes those arrays.
    raw = tmp_path / "raw"
    for rel in FILES[1:2] + FILES[4:5] + FILES[6:7]:
        os.makedirs(raw / os.path.dirname(rel), exist_ok=True)
        shutil.copy(os.path.join(CORPUS, rel), raw / rel)
    code = ("import atexit, sys\n"
            "from gecko_cli.cli import main\n"
            "atexit.register(lambda: print(*(m in sys.modules for m in ('pyarrow.compute', 'numpy.ma', 'pyarrow'))))\n"
            "sys.argv = ['gecko', '-q', 'balance', *sys.argv[1:]]\n"
            "main()\n")
    for args in ([str(raw), str(tmp_path / "mixed"), "--keep-dropped", str(tmp_path / "dropped")],
                 [str(tmp_path / "mixed"), str(tmp_path / "again"), "--workers", "2", "--shard-size", "1MB"]):
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[-1] == "False False True"
