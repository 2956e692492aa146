"""Finding input files: recursion, order, formats, exclusion, ignored files, clear errors, host slices."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from gecko_cli.errors import ConfigError, DataError
from gecko_cli.shards import check_hosts, discover, host_slice
from gecko_cli.shards.inputs import format_of


def touch(root, rel: str, data: bytes = b"{}\n") -> str:
    path = os.path.join(str(root), rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def rels(files) -> list[str]:
    return [f.relpath for f in files]


def test_recursive_sorted_with_indices_sizes_and_paths(tmp_path):
    for rel in ["z.jsonl", "b/y.parquet", "a/c/x.arrow", "a/w.jsonl.gz", "m.jsonl.zst"]:
        touch(tmp_path, rel, b"x" * len(rel))
    files = discover(str(tmp_path))
    assert rels(files) == ["a/c/x.arrow", "a/w.jsonl.gz", "b/y.parquet", "m.jsonl.zst", "z.jsonl"]
    assert [f.index for f in files] == [0, 1, 2, 3, 4]
    for f in files:
        assert f.path == os.path.join(str(tmp_path), f.relpath)
        assert f.size == len(f.relpath)


def test_order_does_not_depend_on_creation_order(tmp_path):
    names = [f"part-{i:02d}.jsonl" for i in range(12)]
    for name in reversed(names):
        touch(tmp_path / "one", name)
    for name in names:
        touch(tmp_path / "two", name)
    assert rels(discover(str(tmp_path / "one"))) == names
    assert rels(discover(str(tmp_path / "two"))) == names


@pytest.mark.parametrize("name, fmt", [
    ("a.jsonl", "jsonl"), ("a.jsonl.gz", "jsonl.gz"), ("a.jsonl.zst", "jsonl.zst"),
    ("a.parquet", "parquet"), ("a.arrow", "arrow"), ("A.JSONL.ZST", "jsonl.zst"), ("x.gz.jsonl", "jsonl"),
    ("a.json", None), ("a.txt", None), ("a.zst", None), ("a.gz", None), ("README", None),
])
def test_format_by_suffix(name, fmt):
    assert format_of(name) == fmt


def test_formats_of_discovered_files(tmp_path):
    for rel in ["a.jsonl", "b.jsonl.gz", "c.jsonl.zst", "d.parquet", "e.arrow"]:
        touch(tmp_path, rel)
    assert [f.format for f in discover(str(tmp_path))] == ["jsonl", "jsonl.gz", "jsonl.zst", "parquet", "arrow"]


def test_unknown_format_names_file_and_suggests_exclude(tmp_path):
    touch(tmp_path, "a.jsonl")
    bad = touch(tmp_path, "notes/readme.txt", b"hello")
    with pytest.raises(DataError) as info:
        discover(str(tmp_path))
    assert bad in info.value.message
    assert "unknown input format" in info.value.message
    assert "--exclude '*.txt'" in info.value.hint
    # Following the hint works.
    assert rels(discover(str(tmp_path), exclude=("*.txt",))) == ["a.jsonl"]


def test_unknown_format_without_extension_suggests_its_name(tmp_path):
    touch(tmp_path, "LICENSE", b"MIT")
    with pytest.raises(DataError) as info:
        discover(str(tmp_path))
    assert "--exclude 'LICENSE'" in info.value.hint


def test_exclude_matches_relative_path_or_file_name(tmp_path):
    for rel in ["keep.jsonl", "skip.jsonl", "logs/run.jsonl", "deep/logs/x.jsonl", "deep/y.parquet"]:
        touch(tmp_path, rel)
    root = str(tmp_path)
    assert rels(discover(root, exclude=("skip.jsonl",))) == [
        "deep/logs/x.jsonl", "deep/y.parquet", "keep.jsonl", "logs/run.jsonl"]
    assert rels(discover(root, exclude=("logs/*",))) == ["deep/logs/x.jsonl", "deep/y.parquet", "keep.jsonl",
                                                         "skip.jsonl"]
    assert rels(discover(root, exclude=("*/logs/*", "logs/*"))) == ["deep/y.parquet", "keep.jsonl", "skip.jsonl"]
    assert rels(discover(root, exclude=("*.parquet", "s*"))) == ["deep/logs/x.jsonl", "keep.jsonl", "logs/run.jsonl"]
    # Indices count the files kept, with no gaps.
    assert [f.index for f in discover(root, exclude=("skip.jsonl",))] == [0, 1, 2, 3]


def test_everything_excluded_is_a_clear_error(tmp_path):
    touch(tmp_path, "a.jsonl")
    with pytest.raises(DataError) as info:
        discover(str(tmp_path), exclude=("*",))
    assert "no input files" in info.value.message
    assert "excluded by --exclude" in info.value.message


def test_gecko_files_and_dot_files_are_ignored(tmp_path):
    touch(tmp_path, "data.jsonl")
    touch(tmp_path, "manifest.json", b"{}")
    touch(tmp_path, "config.json", b"{}")
    touch(tmp_path, "sub/manifest.json", b"{}")
    touch(tmp_path, ".DS_Store", b"\0\1")
    touch(tmp_path, ".hidden.jsonl")
    touch(tmp_path, ".git/objects/ab/cdef", b"blob")
    touch(tmp_path, ".gecko-work/signatures/00000.sig", b"\0")
    touch(tmp_path, "sub/.cache/x.jsonl")
    touch(tmp_path, "sub/part.arrow")
    assert rels(discover(str(tmp_path))) == ["data.jsonl", "sub/part.arrow"]


def test_single_file_input(tmp_path):
    path = touch(tmp_path, "some/dir/one.jsonl.zst")
    (f,) = discover(path)
    assert (f.index, f.path, f.relpath, f.format) == (0, path, "one.jsonl.zst", "jsonl.zst")


def test_single_file_of_unknown_format(tmp_path):
    path = touch(tmp_path, "data.csv", b"a,b")
    with pytest.raises(DataError, match="data.csv: unknown input format"):
        discover(path)


def test_missing_input_is_a_clear_error(tmp_path):
    missing = str(tmp_path / "nope")
    with pytest.raises(DataError) as info:
        discover(missing)
    assert missing in info.value.message and "does not exist" in info.value.message
    assert info.value.hint


@pytest.mark.parametrize("make", [
    lambda root: None,
    lambda root: touch(root, "manifest.json", b"{}"),
    lambda root: touch(root, ".hidden/a.jsonl"),
    lambda root: os.makedirs(os.path.join(root, "empty", "sub")),
])
def test_empty_input_folder_is_a_clear_error(tmp_path, make):
    root = str(tmp_path / "raw")
    os.makedirs(root)
    make(root)
    with pytest.raises(DataError) as info:
        discover(root)
    assert info.value.message == f"no input files in {root}"
    assert ".jsonl" in info.value.hint and ".parquet" in info.value.hint


def test_broken_link_is_a_data_error(tmp_path):
    touch(tmp_path, "a.jsonl")
    os.symlink(str(tmp_path / "gone.jsonl"), str(tmp_path / "b.jsonl"))
    with pytest.raises(DataError, match="b.jsonl: cannot be read"):
        discover(str(tmp_path))


def test_linked_folders_are_followed_once(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    touch(elsewhere, "web/x.jsonl")
    root = tmp_path / "raw"
    touch(root, "a.jsonl")
    os.symlink(str(elsewhere / "web"), str(root / "web"))
    os.symlink(str(root), str(root / "loop"))  # a link back up must not loop forever
    assert rels(discover(str(root))) == ["a.jsonl", "web/x.jsonl"]


def test_unlistable_folder_is_not_skipped_silently():
    # Permissions do not bind root, so as root the check runs in a child process that drops to "nobody".
    root = tempfile.mkdtemp()
    try:
        os.chmod(root, 0o755)
        touch(Path(root), "a.jsonl")
        locked = Path(root) / "locked"
        touch(locked, "b.jsonl")
        locked.chmod(0)
        pid = os.fork()
        if pid == 0:  # child: report through the exit code only
            code = 3
            try:
                if os.geteuid() == 0:
                    os.setgid(65534)
                    os.setuid(65534)
                discover(root)
                code = 1
            except DataError as e:
                code = 0 if "cannot list the folder" in e.message else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        os.chmod(os.path.join(root, "locked"), 0o755)
        shutil.rmtree(root)


def test_host_slice_partitions_items():
    items = list(range(10))
    slices = [host_slice(items, 3, i) for i in range(3)]
    assert slices == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    assert sorted(x for s in slices for x in s) == items
    assert host_slice(items, 1, 0) == items
    assert host_slice([1, 2], 4, 3) == []


@pytest.mark.parametrize("num_hosts, host_index", [(2, 2), (2, -1), (1, 1), (0, 0), (-3, 0)])
def test_bad_hosts_are_config_errors(num_hosts, host_index):
    with pytest.raises(ConfigError) as info:
        check_hosts(num_hosts, host_index)
    assert "--num-hosts" in info.value.message or "--host-index" in info.value.message
    with pytest.raises(ConfigError):
        host_slice([1, 2, 3], num_hosts, host_index)


def test_host_index_error_says_the_range():
    with pytest.raises(ConfigError) as info:
        check_hosts(4, 4)
    assert "0..3" in info.value.message


def test_good_hosts_pass():
    for n in (1, 2, 7):
        for i in range(n):
            check_hosts(n, i)


def test_unfinished_gecko_output_is_refused(tmp_path):
    touch(tmp_path, "shard-00000.arrow")
    (tmp_path / ".gecko-work").mkdir()
    with pytest.raises(DataError, match="unfinished"):
        discover(str(tmp_path))


def test_folder_of_other_shards_is_refused(tmp_path):
    touch(tmp_path, "shard-00000.arrow")
    (tmp_path / "manifest.json").write_text('{"stage": "pack", "schema": "packed", "shards": []}')
    with pytest.raises(DataError, match="packed shards, not docs"):
        discover(str(tmp_path))


@pytest.mark.parametrize("content", ["[" * 100_000, '{"shards": [], "n": ' + "9" * 5000 + "}"])
def test_a_manifest_json_cannot_read_is_an_unreadable_manifest(tmp_path, content):
    from gecko_cli.shards import read_manifest

    (tmp_path / "manifest.json").write_text(content)
    with pytest.raises(DataError, match="manifest.json: unreadable manifest"):
        read_manifest(str(tmp_path))
    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n')
    assert [f.relpath for f in discover(str(tmp_path))] == ["a.jsonl"]  # read as plain input files
