"""Base images: content-keyed tags, idempotent ensure, and what the built images contain."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import docker
import pytest

from sandbox import images, labels
from sandbox.docker_client import connect
from sandbox.errors import QuorumError

UNREACHABLE_MIRROR = "http://127.0.0.1:9/debian"  # port 9 (discard): refused at once


def test_tag_is_deterministic_and_content_keyed() -> None:
    tag = images.base_image_tag("bookworm")
    assert tag == images.base_image_tag("bookworm")
    assert tag.startswith("quorum/base:bookworm-")
    assert len(tag.rsplit("-", 1)[1]) == 12
    assert images.base_image_tag("bullseye") != tag

    base = images.recipe("bookworm")
    assert base.model_copy(update={"packages": (*base.packages, "curl")}).tag != tag
    assert base.model_copy(update={"version": base.version + 1}).tag != tag
    assert base.model_copy(update={"variant": "buildd"}).tag != tag
    # Package order and duplicates are not content.
    shuffled = base.model_copy(update={"packages": tuple(reversed(base.packages)) * 2})
    assert shuffled.tag == tag


def test_unknown_suite_is_refused_with_the_choices() -> None:
    with pytest.raises(QuorumError) as info:
        images.base_image_tag("sid")
    assert "bookworm" in (info.value.hint or "")


def test_mirror_is_read_from_deb822_and_one_line_sources(tmp_path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d/debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n"
    )
    assert images.debian_mirror(str(tmp_path)) == "http://mirror.example/debian"
    (tmp_path / "sources.list.d/debian.sources").unlink()
    (tmp_path / "sources.list").write_text(
        "deb [arch=amd64] http://other.example/debian bookworm main\n"
    )
    assert images.debian_mirror(str(tmp_path)) == "http://other.example/debian"
    assert images.debian_mirror(str(tmp_path / "absent")) == images.DEFAULT_MIRROR


@pytest.fixture(scope="module")
def client():
    c = connect()  # fails with EngineUnavailable and its hint when no engine answers
    yield c
    c.close()


def _unbuilt_recipe(client: docker.DockerClient) -> images.BaseRecipe:
    # A recipe whose tag is certainly absent, so ensure_image must try to build it.
    spec = images.recipe("bookworm").model_copy(update={"packages": (*images.PACKAGES, "jq")})
    assert not images.image_present(client, spec.tag)
    return spec


@pytest.mark.docker
@pytest.mark.parametrize("suite", list(images.SUITES))
def test_ensure_on_present_image_returns_fast_without_building(client, suite) -> None:
    tag = images.ensure_base_image(client, suite)  # builds once if make setup did not
    before = client.images.get(tag).id
    messages: list[str] = []
    started = time.monotonic()
    # An unreachable mirror proves no build is attempted: a build would fail on it.
    again = images.ensure_base_image(
        client, suite, mirror=UNREACHABLE_MIRROR, progress=messages.append
    )
    assert again == tag
    assert time.monotonic() - started < 2
    assert messages == []
    assert client.images.get(tag).id == before


@pytest.mark.docker
@pytest.mark.parametrize("suite", list(images.SUITES))
def test_base_image_carries_labels_and_config(client, suite) -> None:
    image = client.images.get(images.ensure_base_image(client, suite))
    spec = images.recipe(suite)
    assert image.labels[labels.MANAGED] == "1"
    assert image.labels[labels.KIND] == "base-image"
    assert image.labels[labels.CONTENT_KEY] == spec.content_key
    config = image.attrs["Config"]
    assert config["WorkingDir"] == "/workspace"
    assert config["Cmd"] == ["/bin/bash"]
    assert any(e.startswith("PATH=/usr/local/sbin:") for e in config["Env"])
    assert image.attrs["Size"] < 600 * 1024**2


SMOKE = """
set -e
python3 --version
python --version
git --version
command -v setsid patch ps
python3 -m venv /tmp/v
/tmp/v/bin/pip --version
command -v g++ make
printf '#include <Python.h>\nstatic struct PyModuleDef m = {PyModuleDef_HEAD_INIT, "hello"};\n'\
'PyMODINIT_FUNC PyInit_hello(void) { return PyModule_Create(&m); }\n' > /tmp/hello.c
gcc -shared -fPIC $(python3-config --includes) /tmp/hello.c \
    -o /tmp/hello$(python3-config --extension-suffix)
(cd /tmp && python3 -c 'import hello; print("built extension", hello.__name__)')
cd /tmp && git init -q r && cd r
git -c user.email=a@b -c user.name=t commit -q --allow-empty -m x
git log --oneline | wc -l
test ! -e /var/lib/apt/lists/deb.debian.org_debian_dists_*_InRelease
"""


@pytest.mark.docker
@pytest.mark.parametrize("suite", list(images.SUITES))
def test_built_image_has_python_git_venv_setsid_and_a_c_toolchain(client, suite) -> None:
    tag = images.ensure_base_image(client, suite)
    container = client.containers.create(
        tag, ["bash", "-c", SMOKE], labels={labels.MANAGED: "1", labels.KIND: "sandbox"}
    )
    try:
        container.start()
        status = container.wait(timeout=120)
        out = container.logs().decode()
    finally:
        container.remove(force=True)
    assert status["StatusCode"] == 0, out
    assert f"Python {images.SUITES[suite]}." in out
    assert "git version" in out
    assert "/usr/bin/setsid" in out
    assert "pip " in out
    assert "/usr/bin/g++" in out and "/usr/bin/make" in out
    assert "built extension hello" in out  # gcc + Python headers: sdists with C build here
    assert out.strip().endswith("1")  # the commit exists


@pytest.mark.docker
def test_build_refuses_an_unreachable_mirror_quickly(client) -> None:
    spec = _unbuilt_recipe(client)
    started = time.monotonic()
    with pytest.raises(images.ImageBuildError) as info:
        images.ensure_image(client, spec, mirror=UNREACHABLE_MIRROR)
    assert time.monotonic() - started < 20
    assert "mirror" in str(info.value) and "--mirror" in (info.value.hint or "")
    assert not images.image_present(client, spec.tag)


@pytest.mark.docker
def test_build_without_debootstrap_says_how_to_install_it(client, tmp_path, monkeypatch) -> None:
    spec = _unbuilt_recipe(client)
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no debootstrap on it
    with pytest.raises(images.ImageBuildError) as info:
        images.ensure_image(client, spec)
    assert "debootstrap" in str(info.value)
    assert "apt-get install -y debootstrap" in (info.value.hint or "")


@pytest.mark.docker
@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/setpriv"), reason="root")
def test_build_as_non_root_says_it_needs_root(client) -> None:
    # Run as `nobody` in a child: the check under test is the real euid, not a patched one.
    code = (
        "from sandbox import images\n"
        "spec = images.recipe('bookworm').model_copy("
        "update={'packages': (*images.PACKAGES, 'jq')})\n"
        "try:\n    images.build_image(None, spec, mirror='x')\n"
        "except images.ImageBuildError as e:\n    print(e)\n"
    )
    proc = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
        capture_output=True, text=True, timeout=60, cwd=os.getcwd(),
    )  # fmt: skip
    assert "needs root" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.docker
def test_failed_pull_falls_back_to_building(client) -> None:
    spec = _unbuilt_recipe(client)
    messages: list[str] = []
    with pytest.raises(images.ImageBuildError, match="mirror"):
        images.ensure_image(
            client, spec, pull_from="127.0.0.1:9/quorum/base", mirror=UNREACHABLE_MIRROR,
            progress=messages.append,
        )  # fmt: skip
    assert any("pull failed" in m and "building instead" in m for m in messages), messages
