"""Where the persistent compilation cache goes, and when it is off."""

import os

from gecko_cli import compile_cache


def test_folder_follows_the_settings(monkeypatch, tmp_path):
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    monkeypatch.setenv("GECKO_JAX_CACHE", str(tmp_path))
    kind = compile_cache.machine_kind()
    assert compile_cache.folder() == os.path.join(str(tmp_path), kind)
    for off in ("off", "OFF", "0", "none"):
        monkeypatch.setenv("GECKO_JAX_CACHE", off)
        assert compile_cache.folder() is None and compile_cache.enable() is None
    monkeypatch.delenv("GECKO_JAX_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache.folder() == os.path.join(str(tmp_path / "xdg"), "gecko", "jax", kind)
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "own"))  # the user's own: left to JAX
    assert compile_cache.folder() is None


def test_machine_kind_is_stable_and_names_the_architecture():
    import platform

    kind = compile_cache.machine_kind()
    assert kind == compile_cache.machine_kind() and kind.startswith(platform.machine())


def test_a_folder_that_cannot_be_made_only_warns(monkeypatch, tmp_path):
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("GECKO_JAX_CACHE", str(tmp_path / "afile"))
    assert compile_cache.enable() is None
