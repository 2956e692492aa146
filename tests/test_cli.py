"""The `gecko` command as a user runs it: help, usage errors, user errors (exit 1, no traceback), dedup, inspect."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import zstandard
from typer.testing import CliRunner

from gecko_cli.cli import app

GECKO = [sys.executable, "-m", "gecko_cli"]


def gecko(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run gecko in a fresh process, as a user would."""
    full_env = {k: v for k, v in os.environ.items() if k != "GECKO_DEBUG"}
    full_env.update({"NO_COLOR": "1", "COLUMNS": "200", **(env or {})})
    return subprocess.run([*GECKO, *args], capture_output=True, text=True, env=full_env, timeout=120)


def invoke(*args: str):
    """Run gecko in this process with typer's test runner; stdout and stderr are kept apart."""
    return CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200"})


def assert_user_error(code: int, stdout: str, stderr: str) -> list[str]:
    """A user error: exit 1, `error: ...`, a blank line, `hint: ...` on stderr, nothing on stdout, no traceback."""
    assert code == 1, stderr
    assert stdout == ""
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert lines[0].startswith("error: ")
    assert "" in lines and any(line.startswith("hint: ") for line in lines)
    assert lines.index("") < [i for i, line in enumerate(lines) if line.startswith("hint: ")][0]
    return lines


# --------------------------------------------------------------------------------------------- in a process
def test_help():
    proc = gecko("--help")
    assert proc.returncode == 0, proc.stderr
    assert "Usage: gecko" in proc.stdout
    assert "dedup" in proc.stdout and "inspect" in proc.stdout


def test_no_arguments_shows_help():
    proc = gecko()
    assert "Usage: gecko" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_console_script_version():
    script = os.path.join(os.path.dirname(sys.executable), "gecko")
    if not os.path.exists(script):
        pytest.skip("no gecko script next to this Python")
    proc = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.startswith("gecko ")


def test_unknown_flag_is_a_usage_error():
    proc = gecko("dedup", "--no-such-flag")
    assert proc.returncode == 2
    assert "No such option" in proc.stderr and "--no-such-flag" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_dedup_on_missing_input(tmp_path):
    missing = str(tmp_path / "raw")
    proc = gecko("dedup", missing, str(tmp_path / "clean"))
    lines = assert_user_error(proc.returncode, proc.stdout, proc.stderr)
    assert missing in lines[0] and "not found" in lines[0]
    assert not os.path.exists(tmp_path / "clean")


def test_gecko_debug_shows_the_traceback(tmp_path):
    proc = gecko("inspect", str(tmp_path), env={"GECKO_DEBUG": "1"})
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "DataError" in proc.stderr
    assert "error: " in proc.stderr


def test_bad_record_in_process(tiny_raw, tmp_path):
    bad = os.path.join(tiny_raw, "c.jsonl")
    with open(bad, "w") as fh:
        fh.write('{"text": "fine"}\n{"text": oops}\n')
    proc = gecko("dedup", tiny_raw, str(tmp_path / "clean"))
    lines = assert_user_error(proc.returncode, proc.stdout, proc.stderr)
    assert f"{bad}:2: not valid JSON" in lines[0]


# ---------------------------------------------------------------------------------------------------- dedup
def test_dedup_then_inspect(tiny_raw, tmp_path):
    out = str(tmp_path / "clean")
    result = invoke("dedup", tiny_raw, out)
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    docs = manifest["stats"]["documents"]
    assert docs["read"] == 12 and docs["read"] == docs["kept"] + sum(docs["dropped"].values())
    rows = sum(s["rows"] for s in manifest["shards"])
    assert rows == docs["kept"]

    result = invoke("inspect", out)
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert f"{rows} rows" in text
    assert "schema: text: string, id: string, lang: string, source: string" in text
    assert "--- sample 0" in text and '"id": "ko-0"' in text
    assert "대한민국의 수도는 서울이며" in text

    result = invoke("inspect", out, "--json", "--samples", "2")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["rows"] == rows and data["stage"] == "dedup"
    assert [name for name, _ in data["schema"]] == ["text", "id", "lang", "source"]
    assert len(data["samples"]) == 2 and data["samples"][0]["id"] == "ko-0"
    assert data["stats"]["documents"] == docs


def test_dedup_names_the_bad_line(tiny_raw, tmp_path):
    bad = os.path.join(tiny_raw, "sub", "c.jsonl.zst")
    with open(bad, "wb") as fh:
        fh.write(zstandard.ZstdCompressor().compress(b'{"text": "fine"}\n\n{"text": "a\\ud800"}\n'))
    result = invoke("dedup", tiny_raw, str(tmp_path / "clean"))
    lines = assert_user_error(result.exit_code, result.stdout, result.stderr)
    assert lines[0].startswith(f"error: {bad}:3: ")
    assert "--on-bad-record skip" in result.stderr


def test_skip_bad_records_counts_them(tiny_raw, tmp_path):
    with open(os.path.join(tiny_raw, "c.jsonl"), "w") as fh:
        fh.write('{"text": "a new and unique document about gardening"}\n[1, 2]\n{"body": "no text"}\n')
    out = str(tmp_path / "clean")
    result = invoke("dedup", tiny_raw, out, "--on-bad-record", "skip")
    assert result.exit_code == 0, result.stderr
    docs = json.load(open(os.path.join(out, "manifest.json")))["stats"]["documents"]
    assert docs["read"] == 15
    assert docs["dropped"]["bad_record"] == 2
    assert docs["read"] == docs["kept"] + sum(docs["dropped"].values())


@pytest.mark.parametrize("line, why", [
    ('{"text": "hi there", "x": ' + "9" * 5000 + "}", "an integer of more than 4300 digits"),
    ("[" * 100_000, "nested too deeply"),
])
def test_json_the_parser_cannot_read_is_a_bad_record(tiny_raw, tmp_path, line, why):
    bad = os.path.join(tiny_raw, "c.jsonl")
    with open(bad, "w") as fh:
        fh.write('{"text": "a new and unique document about gardening"}\n' + line + "\n")
    proc = gecko("dedup", tiny_raw, str(tmp_path / "clean"))
    lines = assert_user_error(proc.returncode, proc.stdout, proc.stderr)
    assert lines[0].startswith(f"error: {bad}:2: ") and why in lines[0]
    out = str(tmp_path / "skipped")
    proc = gecko("dedup", tiny_raw, out, "--on-bad-record", "skip")
    assert proc.returncode == 0, proc.stderr
    docs = json.load(open(os.path.join(out, "manifest.json")))["stats"]["documents"]
    assert docs["read"] == 14 and docs["dropped"]["bad_record"] == 1


@pytest.mark.parametrize("stage", ["dedup", "balance"])
@pytest.mark.parametrize("flag, path, why", [
    (None, "afile", "exists and is not a folder"),
    (None, "afile/sub", "is inside a file, not a folder"),
    ("--keep-dropped", "afile", "exists and is not a folder"),
    ("--keep-dropped", "afile/sub", "is inside a file, not a folder"),
])
def test_output_path_that_is_a_file(tiny_raw, tmp_path, stage, flag, path, why):
    (tmp_path / "afile").write_text("x")
    target = str(tmp_path / path)
    out = [str(tmp_path / "out"), flag, target] if flag else [target]
    result = invoke(stage, tiny_raw, *out)
    lines = assert_user_error(result.exit_code, result.stdout, result.stderr)
    assert lines[0] == f"error: {target} {why}" + ("" if why.startswith("exists") else f" ({tmp_path / 'afile'} is a file)")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("stage", ["dedup", "balance"])
@pytest.mark.parametrize("where, why", [
    ("same", "is the input {inp} itself"),
    ("inside", "is inside the input folder {inp}"),
    ("holds", "is inside the {what}"),
    ("dropped-inside", "is inside the input folder {inp}"),
])
def test_output_that_overlaps_the_input_is_refused(tiny_raw, tmp_path, stage, where, why):
    # Each would lose or double documents: read its own shards back on a rerun, --overwrite deleting the input
    # while it is read, or the next stage reading the input again with the output. Nothing may be written.
    clean = str(tmp_path / "clean")
    assert invoke("dedup", tiny_raw, clean).exit_code == 0
    inp = clean if stage == "balance" else tiny_raw
    outer = str(tmp_path)
    args = {"same": [inp, inp], "inside": [inp, os.path.join(inp, "out")], "holds": [inp, outer],
            "dropped-inside": [inp, str(tmp_path / "out"), "--keep-dropped", os.path.join(inp, "dropped")]}[where]
    before = {p: os.path.getmtime(os.path.join(d, p)) for d in (inp,) for p in os.listdir(d)}
    result = invoke(stage, *args, "--overwrite")
    lines = assert_user_error(result.exit_code, result.stdout, result.stderr)
    what = "output folder" if where != "holds" else "output folder " + outer
    assert why.format(inp=inp, what=what) in lines[0]
    assert {p: os.path.getmtime(os.path.join(inp, p)) for p in os.listdir(inp)} == before
    assert not (tmp_path / "out").exists() and not os.path.exists(os.path.join(inp, "out"))


def test_file_in_the_way_of_an_output_is_a_user_error():
    from gecko_cli.cli import error_boundary

    def make_folder_under_a_file():
        os.makedirs(__file__ + "/sub")

    with pytest.raises(SystemExit) as info:
        error_boundary(make_folder_under_a_file)()
    assert info.value.code == 1


def test_unknown_input_format_suggests_exclude(tiny_raw, tmp_path):
    with open(os.path.join(tiny_raw, "notes.txt"), "w") as fh:
        fh.write("not data")
    out = str(tmp_path / "clean")
    result = invoke("dedup", tiny_raw, out)
    lines = assert_user_error(result.exit_code, result.stdout, result.stderr)
    assert "notes.txt: unknown input format" in lines[0]
    assert "--exclude '*.txt'" in result.stderr
    assert invoke("dedup", tiny_raw, out, "--exclude", "*.txt").exit_code == 0


def test_corrupt_input_file(tiny_raw, tmp_path):
    path = os.path.join(tiny_raw, "sub", "b.jsonl.zst")
    data = open(path, "rb").read()
    with open(path, "wb") as fh:
        fh.write(data[: len(data) // 2])
    result = invoke("dedup", tiny_raw, str(tmp_path / "clean"))
    lines = assert_user_error(result.exit_code, result.stdout, result.stderr)
    assert path in lines[0] and "truncated" in lines[0]


def test_output_written_with_other_settings_needs_overwrite(tiny_raw, tmp_path):
    out = str(tmp_path / "clean")
    assert invoke("dedup", tiny_raw, out).exit_code == 0
    again = invoke("dedup", tiny_raw, out)  # same settings: already complete
    assert again.exit_code == 0, again.stderr
    result = invoke("dedup", tiny_raw, out, "--threshold", "0.5")
    lines = assert_user_error(result.exit_code, result.stdout, result.stderr)
    assert out in lines[0]
    assert "--overwrite" in result.stderr
    result = invoke("dedup", tiny_raw, out, "--threshold", "0.5", "--overwrite")
    assert result.exit_code == 0, result.stderr
    assert json.load(open(os.path.join(out, "manifest.json")))["config"]["threshold"] == 0.5


def test_output_of_another_stage_is_named_as_such(tiny_raw, tmp_path):
    clean, other = str(tmp_path / "clean"), str(tmp_path / "other")
    assert invoke("dedup", tiny_raw, clean).exit_code == 0
    assert invoke("dedup", tiny_raw, other).exit_code == 0
    result = invoke("balance", clean, other)
    lines = assert_user_error(result.exit_code, result.stdout, result.stderr)
    assert lines[0] == f"error: {other} holds the output of gecko dedup, not of a balance run"
    assert "--overwrite to replace that dedup output" in result.stderr
    assert json.load(open(os.path.join(other, "manifest.json")))["stage"] == "dedup"


def test_bad_host_index(tiny_raw, tmp_path):
    result = invoke("dedup", tiny_raw, str(tmp_path / "clean"), "--num-hosts", "2", "--host-index", "2")
    lines = assert_user_error(result.exit_code, result.stdout, result.stderr)
    assert "--host-index 2" in lines[0]


# -------------------------------------------------------------------------------------------------- inspect
def test_inspect_folder_without_manifest(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n')
    result = invoke("inspect", str(tmp_path))
    lines = assert_user_error(result.exit_code, result.stdout, result.stderr)
    assert lines[0] == f"error: {tmp_path} has no manifest.json: it is not a finished gecko output"


def test_inspect_missing_folder(tmp_path):
    result = invoke("inspect", str(tmp_path / "nope"))
    lines = assert_user_error(result.exit_code, result.stdout, result.stderr)
    assert "nope is not a folder" in lines[0]


def test_inspect_negative_samples_is_a_usage_error(tmp_path):
    result = invoke("inspect", str(tmp_path), "--samples", "-1")
    assert result.exit_code == 2


def test_the_command_starts_without_loading_jax_or_torch():
    import subprocess
    import sys

    code = "import sys, gecko_cli.cli; print(sorted(m for m in ('jax', 'torch', 'flax', 'transformers') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


# ------------------------------------------------------------------------------------------ what gets printed
def test_results_and_errors_are_printed_as_they_are(capsys):
    # A result line may quote a document: rich would take "[b]" for markup, fail on "[/b]", turn ":smile:" into
    # an emoji.
    from gecko_cli.console import print_error, result

    line = json.dumps({"text": "see [bold]this[/bold], a closing [/b] and :smile: [link=x]y"})
    result(line)
    print_error("bad value [/i] in :thumbs_up: x.jsonl", hint="fix [b]it[/b]")
    captured = capsys.readouterr()
    assert captured.out == line + "\n"
    assert captured.err == "error: bad value [/i] in :thumbs_up: x.jsonl\n\nhint: fix [b]it[/b]\n"


def test_a_json_result_does_not_load_rich():
    code = ("import sys\n"
            "from gecko_cli.console import result\n"
            "result('{\"a\": 1}')\n"
            "print('rich' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ['{"a": 1}', "False"]


def test_command_modules_keep_their_annotations_evaluated():
    # typer reads every command's annotations at each start: as strings it compiles each again (20 ms a run).
    import gecko_cli.cli as root

    modules = [root, *(sys.modules[c.callback.__module__] for c in root.app.registered_commands)]
    assert len(modules) == 9
    for module in modules:
        assert "annotations" not in vars(module), module.__name__  # what the __future__ import binds


def test_a_command_run_loads_only_its_own_stage():
    # typer reads the options of every command it has at each start: `gecko CMD` registers CMD alone
    code = ("import atexit, sys\n"
            "from gecko_cli.cli import main\n"
            "atexit.register(lambda: print(sorted(m for m in sys.modules if m.endswith('.cli'))))\n"
            "sys.argv = ['gecko', 'inspect', '--help']\n"
            "main()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and "Usage: gecko inspect" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "['gecko_cli.cli', 'gecko_cli.inspection.cli']"
