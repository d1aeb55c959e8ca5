"""A one-file image (the pause image, Prometheus'): the executable alone in one layer, at its
path, owned by root and executable, and named as the image's command."""

from __future__ import annotations

import io
import json
import pathlib
import tarfile

from stigg_devkit import images


def test_the_executable_is_the_only_file_and_the_command(tmp_path: pathlib.Path) -> None:
    binary = tmp_path / "tool"
    binary.write_bytes(b"\x7fELF not really")
    archive = tmp_path / "tool.oci.tar"
    digest = images.pack_executable(
        binary, archive, path="bin/tool", ref="localhost/x/tool:1", history="test"
    )
    assert digest == images.manifest_digest(archive)
    with tarfile.open(archive) as oci:
        blobs = {member.name.rsplit("/", 1)[-1]: oci.extractfile(member) for member in oci if member.isfile()}
        contents = {name: stream.read() for name, stream in blobs.items() if stream is not None}
    index = json.loads(contents["index.json"])
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "localhost/x/tool:1"
    manifest = json.loads(contents[digest.removeprefix("sha256:")])
    config = json.loads(contents[manifest["config"]["digest"].removeprefix("sha256:")])
    assert config["config"]["Cmd"] == ["/bin/tool"]
    (layer,) = manifest["layers"]
    with tarfile.open(fileobj=io.BytesIO(contents[layer["digest"].removeprefix("sha256:")])) as files:
        (member,) = files.getmembers()
        assert (member.name, member.mode, member.uid, member.gid) == ("bin/tool", 0o755, 0, 0)
        extracted = files.extractfile(member)
        assert extracted is not None
        assert extracted.read() == binary.read_bytes()
