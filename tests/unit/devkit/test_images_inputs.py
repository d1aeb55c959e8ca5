"""The images' input digests (stigg_devkit.images): an image is rebuilt exactly when something
its build reads changed, whatever order its files are listed in, and never for a cache file
or a build output in the developer's tree."""

from __future__ import annotations

import pathlib

from stigg_devkit import images

SIDECAR = images.COMPONENTS[0]


def _key(
    files: dict[str, bytes],
    *,
    dockerfile: bytes = b"FROM x",
    base: str = "sha256:b",
    wheels: tuple[str, ...] = ("a.whl",),
) -> str:
    return images.image_key(SIDECAR, files, dockerfile=dockerfile, base=base, wheels=wheels)


def test_the_digest_ignores_order_but_not_names_or_contents() -> None:
    forward = images.input_digest({"a": b"1", "b": b"2"})
    assert forward == images.input_digest({"b": b"2", "a": b"1"})
    assert forward != images.input_digest({"a": b"2", "b": b"1"})
    assert forward != images.input_digest({"a": b"1", "c": b"2"})
    assert forward != images.input_digest({"a": b"1"})


def test_the_digest_cannot_confuse_where_a_name_ends_and_its_content_begins() -> None:
    assert images.input_digest({"ab": b"c"}) != images.input_digest({"a": b"bc"})
    assert images.input_digest({"a": b"", "b": b""}) != images.input_digest({"a": b"b"})


def test_an_image_key_changes_with_each_input() -> None:
    files = {"sidecar/stigg_sidecar/server.py": b"print(1)", "constraints.txt": b"grpcio==1"}
    key = _key(files)
    assert key == _key(dict(reversed(list(files.items()))))
    assert key != _key({**files, "sidecar/stigg_sidecar/server.py": b"print(2)"})
    assert key != _key({**files, "sidecar/stigg_sidecar/new.py": b""})
    assert key != _key(files, dockerfile=b"FROM y")
    assert key != _key(files, base="sha256:other")
    assert key != _key(files, wheels=("a.whl", "b.whl"))
    assert key == _key(files, wheels=("a.whl",))
    operator = images.image_key(
        images.COMPONENTS[1], files, dockerfile=b"FROM x", base="sha256:b", wheels=("a.whl",)
    )
    assert key != operator


def test_caches_and_build_outputs_are_not_sources() -> None:
    path = pathlib.PurePosixPath
    assert images.is_source(path("sidecar/stigg_sidecar/server.py"))
    assert images.is_source(path("sidecar/pyproject.toml"))
    assert images.is_source(path("constraints.txt"))
    assert not images.is_source(path("sidecar/stigg_sidecar/__pycache__/server.cpython-311.pyc"))
    assert not images.is_source(path("sidecar/stigg_sidecar/server.pyc"))
    assert not images.is_source(path("sidecar/stigg_entitlements_sidecar.egg-info/PKG-INFO"))
    assert not images.is_source(path("sidecar/build/lib/stigg_sidecar/server.py"))
    assert not images.is_source(path("envspec/.mypy_cache/3.11/x.json"))


def test_source_files_lists_the_tree_without_caches(tmp_path: pathlib.Path) -> None:
    (tmp_path / "pkg" / "mod" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pkg" / "x.egg-info").mkdir()
    (tmp_path / "pkg" / "mod" / "a.py").write_text("a")
    (tmp_path / "pkg" / "mod" / "__pycache__" / "a.cpython-311.pyc").write_text("")
    (tmp_path / "pkg" / "x.egg-info" / "PKG-INFO").write_text("")
    (tmp_path / "constraints.txt").write_text("")
    found = images.source_files(tmp_path, ["constraints.txt", "pkg"])
    assert sorted(found) == ["constraints.txt", "pkg/mod/a.py"]


def test_the_base_recipe_keeps_perl_compilers_and_caches_out() -> None:
    command = images._mmdebstrap_command(pathlib.Path("out.tar"), [])
    assert "--variant=minbase" in command
    assert f"--hook-dir={images.MERGED_USR_HOOKS}" in command  # not usrmerge, which needs perl
    assert not any("gcc" in part or "build-essential" in part for part in command)
