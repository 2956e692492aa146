"""A damaged checkpoint stops a resume with one clear line, not orbax's traceback."""

import glob
import os
import subprocess
import sys

ARGS = ["--steps", "2", "--checkpoint-every", "2", "--eval-every", "0", "--batch-tokens", "1024", "--log-every", "100"]


def _pretrain(packed, run):
    return subprocess.run([sys.executable, "-m", "gecko_cli", "pretrain", packed, str(run), *ARGS],
                          capture_output=True, text=True, timeout=300)


def test_damaged_checkpoint_is_one_line_naming_it(packed, tmp_path):
    run = tmp_path / "run"
    done = _pretrain(packed, run)
    assert done.returncode == 0, done.stderr[-2000:]
    files = glob.glob(str(run / "checkpoints" / "2" / "state" / "ocdbt.process_0" / "d" / "*"))
    assert files
    for path in files:
        os.truncate(path, 10)
    done = _pretrain(packed, run)
    assert done.returncode == 1
    # orbax's own traceback is gone (TensorStore may still print "Event loop is closed" from its threads for reads
    # that finish after the failure; they name no gecko or orbax frame)
    assert "orbax" not in done.stderr.replace(str(run), "")
    error = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and f"{run}/checkpoints/2: cannot restore this checkpoint" in error[0]
    assert "OUT_OF_RANGE" in error[0] and "Requested byte range" in error[0]  # the root cause, not orbax's wrapper
    assert "delete" in done.stderr and "checkpoints/2" in done.stderr.split("hint:")[1]


_LATE_REPORTS = """
import asyncio, gc, logging, sys
logging.basicConfig()
from gecko_cli.pretrain import checkpoint
if sys.argv[1] == "quiet":
    checkpoint._quiet_failed_reads()

async def read():
    raise ValueError("orbax read failed")

async def main():
    asyncio.get_running_loop().create_task(read())  # never awaited: its error is never retrieved
    await asyncio.sleep(0.01)

asyncio.run(main())

class Late:
    def __del__(self):
        raise ValueError("orbax coroutine closed")

Late()
gc.collect()
print("done")
"""


def test_late_reports_of_the_failed_reads_are_silenced():
    # What the other reads of a damaged checkpoint print when they are collected: asyncio's "Task exception was
    # never retrieved" and an "Exception ignored in" report. Both print without the silencing, none with it.
    def run(mode):
        return subprocess.run([sys.executable, "-c", _LATE_REPORTS, mode], capture_output=True, text=True, timeout=60)

    loud, quiet = run("loud"), run("quiet")
    assert "Task exception was never retrieved" in loud.stderr and "Exception ignored in" in loud.stderr
    assert quiet.stdout == "done\n" and quiet.stderr == ""
