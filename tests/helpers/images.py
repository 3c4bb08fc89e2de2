"""Small real images for tests of what Quorum does with images (prune, measure)."""

from __future__ import annotations

import io
import tarfile

import docker


def image_with_bytes(client: docker.DockerClient, tag: str, label_lines: list[str],
                     n_bytes: int) -> None:  # fmt: skip
    """An image of one layer holding `n_bytes` of data (FROM scratch, built from a tar),
    with `label_lines` (`LABEL k=v`) in its Dockerfile."""
    dockerfile = "\n".join(["FROM scratch", *label_lines, "COPY blob /blob"]).encode()
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in (("Dockerfile", dockerfile), ("blob", bytes(n_bytes))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True)
