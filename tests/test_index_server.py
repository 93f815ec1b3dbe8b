"""The package index a cell serves on loopback (probe/_index_server.py) and its TLS files (indexcerts).

Everything here is real and offline: the server runs as its own process (``python -I -S``, as in a
cell) on 127.0.0.1, with TLS from a private CA made by trustme and real basic auth, and the last test
points a real pip at it. Every server process is killed by its fixture's finalizer.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from isolation_harness.indexcerts import TlsFiles, make_tls_files
from isolation_harness.probe import _index_server
from isolation_harness.probe._index_server import project_of

SERVER = Path(_index_server.__file__)
WHEEL = "demo_pkg-1.0-py3-none-any.whl"
SDIST = "Other.Name-2.0.tar.gz"
LINKED = "linked_dist-0.1-py3-none-any.whl"  # a symlink to a file outside the root
CHALLENGE = 'Basic realm="isolation-harness"'
STARTUP_LIMIT = 10.0

# launch(root, *args) -> (process, port file, stderr file): a server started, not waited for.
Launch = Callable[..., tuple[subprocess.Popen[bytes], Path, Path]]


@dataclass(frozen=True)
class Dists:
    root: Path
    contents: dict[str, bytes]  # what each served file holds


@dataclass(frozen=True)
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    stderr: Path

    def log_lines(self) -> list[str]:
        return self.log.read_text().splitlines()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


def _wheel_bytes() -> bytes:
    """A minimal valid wheel: a module, METADATA, WHEEL and a RECORD with real digests."""
    files = {
        "demo_pkg/__init__.py": b'VALUE = "served by the index"\n',
        "demo_pkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo-pkg\nVersion: 1.0\n",
        "demo_pkg-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: isolation-harness-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = ""
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{name},sha256={digest},{len(data)}\n"
    record += "demo_pkg-1.0.dist-info/RECORD,,\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr("demo_pkg-1.0.dist-info/RECORD", record)
    return buffer.getvalue()


def _sdist_bytes() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = b"Metadata-Version: 2.1\nName: Other.Name\nVersion: 2.0\n"
        info = tarfile.TarInfo("Other.Name-2.0/PKG-INFO")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    root = tmp_path_factory.mktemp("wheels")
    outside = tmp_path_factory.mktemp("elsewhere")
    contents = {WHEEL: _wheel_bytes(), SDIST: _sdist_bytes(), LINKED: b"not really a wheel\n"}
    (root / WHEEL).write_bytes(contents[WHEEL])
    (root / SDIST).write_bytes(contents[SDIST])
    (outside / "target.whl").write_bytes(contents[LINKED])
    (root / LINKED).symlink_to(outside / "target.whl")
    # Not served: a dotfile, a file that is no distribution, a broken link.
    (root / ".hidden-1.0.tar.gz").write_bytes(b"hidden")
    (root / "notes.txt").write_text("notes")
    (root / "gone-1.0.tar.gz").symlink_to(outside / "missing.tar.gz")
    return Dists(root, contents)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


def _launch(tmp: Path, root: Path, args: list[str]) -> tuple[subprocess.Popen[bytes], Path, Path]:
    port_file, stderr = tmp / "port", tmp / "stderr"
    argv = [sys.executable, "-I", "-S", str(SERVER), "--root", str(root), "--port-file", str(port_file)]
    argv += ["--log", str(tmp / "requests.log"), *args]
    with stderr.open("wb") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    return proc, port_file, stderr


def _wait_for_port(proc: subprocess.Popen[bytes], port_file: Path, stderr: Path) -> int:
    deadline = time.monotonic() + STARTUP_LIMIT
    while not port_file.exists():
        if proc.poll() is not None:
            pytest.fail(f"the server exited {proc.returncode}: {stderr.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail("no port file after 10 s")
        time.sleep(0.01)
    return int(port_file.read_text())


@pytest.fixture
def launch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launch]:
    """Start a server process without waiting for it; every one is killed at the end of the test."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(root: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path, Path]:
        proc, port_file, stderr = _launch(tmp_path_factory.mktemp("server"), root, list(args))
        procs.append(proc)
        return proc, port_file, stderr

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.fixture
def serve(launch: Launch) -> Callable[..., Server]:
    """Start a server and wait until its port file says it listens."""

    def start(root: Path, *args: str) -> Server:
        proc, port_file, stderr = launch(root, *args)
        port = _wait_for_port(proc, port_file, stderr)
        return Server(proc, port, port_file.parent / "requests.log", stderr)

    return start


def fetch(
    port: int,
    path: str,
    *,
    method: str = "GET",
    auth: tuple[str, str] | None = None,
    context: ssl.SSLContext | None = None,
) -> Answer:
    conn = (
        http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
        if context
        else http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    )
    headers = {}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    try:
        conn.request(method, path, headers=headers)
        response = conn.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        conn.close()


def links(body: bytes) -> list[tuple[str, str]]:
    return re.findall(r'<a href="([^"]*)">([^<]*)</a>', body.decode())


@pytest.mark.parametrize(
    ("filename", "project"),
    [
        (WHEEL, "demo-pkg"),
        (SDIST, "other-name"),
        ("Foo__Bar-1.0-1-cp38-cp38-linux_x86_64.whl", "foo-bar"),
        ("my-old_name-1.2.3.zip", "my-old-name"),
        ("dashed-name-10.0rc1.tar.gz", "dashed-name"),
        ("noversion.tar.gz", None),
        ("short-1.0.whl", None),
        ("notes.txt", None),
    ],
)
def test_project_names_come_from_filenames(filename: str, project: str | None) -> None:
    assert project_of(filename) == project


def test_index_lists_the_normalized_projects(serve: Callable[..., Server], dists: Dists) -> None:
    server = serve(dists.root)
    answer = fetch(server.port, "/simple/")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    assert links(answer.body) == [(f"/simple/{name}/", name) for name in ("demo-pkg", "linked-dist", "other-name")]


def test_project_pages_link_files_with_their_sha256(serve: Callable[..., Server], dists: Dists) -> None:
    server = serve(dists.root)
    for project, filename in (("demo-pkg", WHEEL), ("other-name", SDIST), ("linked-dist", LINKED)):
        answer = fetch(server.port, f"/simple/{project}/")
        digest = hashlib.sha256(dists.contents[filename]).hexdigest()
        assert answer.status == 200
        assert links(answer.body) == [(f"/files/{filename}#sha256={digest}", filename)]


def test_other_spellings_redirect_and_unknowns_are_404(serve: Callable[..., Server], dists: Dists) -> None:
    server = serve(dists.root)
    for path, location in (
        ("/simple/Demo_Pkg/", "/simple/demo-pkg/"),
        ("/simple/demo-pkg", "/simple/demo-pkg/"),
        ("/simple/OTHER.name/", "/simple/other-name/"),
        ("/simple", "/simple/"),
    ):
        answer = fetch(server.port, path)
        assert (answer.status, answer.headers["Location"]) == (301, location), path
    for path in ("/simple/nope/", "/files/nope-1.0.tar.gz", "/files/notes.txt", "/files/.hidden-1.0.tar.gz"):
        assert fetch(server.port, path).status == 404, path
    for path in ("/files/..%2Fnotes.txt", "/files/gone-1.0.tar.gz", "/elsewhere"):
        assert fetch(server.port, path).status == 404, path


def test_files_are_served_and_answer_head(serve: Callable[..., Server], dists: Dists) -> None:
    server = serve(dists.root)
    for filename in (WHEEL, SDIST, LINKED):
        got = fetch(server.port, f"/files/{filename}")
        assert (got.status, got.body) == (200, dists.contents[filename])
        assert got.headers["Content-Type"] == "application/octet-stream"
        assert got.headers["Content-Length"] == str(len(dists.contents[filename]))
        head = fetch(server.port, f"/files/{filename}", method="HEAD")
        assert (head.status, head.body, head.headers["Content-Length"]) == (200, b"", got.headers["Content-Length"])
    assert fetch(server.port, "/simple/demo-pkg/", method="HEAD").status == 200


def test_basic_auth_challenges_and_the_log_records_each_request(serve: Callable[..., Server], dists: Dists) -> None:
    server = serve(dists.root, "--user", "u", "--password", "p")
    bare = fetch(server.port, "/simple/")
    # pip asks keyring or prompts only on a 401 carrying this challenge.
    assert (bare.status, bare.headers["WWW-Authenticate"]) == (401, CHALLENGE)
    assert fetch(server.port, "/simple/", auth=("u", "wrong")).status == 401
    assert fetch(server.port, f"/files/{WHEEL}", auth=("x", "p")).status == 401
    assert fetch(server.port, f"/files/{WHEEL}", method="HEAD").status == 401
    good = fetch(server.port, f"/files/{WHEEL}", auth=("u", "p"))
    assert (good.status, good.body) == (200, dists.contents[WHEEL])
    assert fetch(server.port, "/simple/Demo.Pkg/", auth=("u", "p")).status == 301
    assert server.log_lines() == [
        "GET /simple/ 401 -",
        "GET /simple/ 401 u",
        f"GET /files/{WHEEL} 401 x",
        f"HEAD /files/{WHEEL} 401 -",
        f"GET /files/{WHEEL} 200 u",
        "GET /simple/Demo.Pkg/ 301 u",
    ]
    assert server.stderr.read_text() == ""


def test_tls_is_trusted_only_through_the_private_ca(serve: Callable[..., Server], dists: Dists, tls: TlsFiles) -> None:
    server = serve(dists.root, "--certfile", str(tls.cert), "--keyfile", str(tls.key))
    trusting = ssl.create_default_context(cafile=str(tls.ca))
    for host in ("127.0.0.1", "localhost"):
        # No proxy handler: the environment's proxy settings must not carry loopback traffic away.
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=trusting)
        )
        with opener.open(f"https://{host}:{server.port}/simple/demo-pkg/", timeout=10) as response:
            assert response.status == 200
            assert WHEEL in response.read().decode()
    default = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ssl.create_default_context())
    )
    with pytest.raises(urllib.error.URLError) as failed:
        default.open(f"https://127.0.0.1:{server.port}/simple/", timeout=10)
    assert isinstance(failed.value.reason, ssl.SSLCertVerificationError)
    # Plain HTTP to the TLS port fails, and the server goes on serving after both failed handshakes.
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        fetch(server.port, "/simple/")
    assert fetch(server.port, "/simple/", context=trusting).status == 200
    assert server.log_lines() == ["GET /simple/demo-pkg/ 200 -", "GET /simple/demo-pkg/ 200 -", "GET /simple/ 200 -"]


def test_the_port_file_is_written_once_the_socket_listens(serve: Callable[..., Server], dists: Dists) -> None:
    server = serve(dists.root)
    port_file = server.log.parent / "port"
    assert re.fullmatch(r"[1-9][0-9]*\n", port_file.read_text())
    assert sorted(p.name for p in port_file.parent.iterdir()) == ["port", "requests.log", "stderr"]  # no tmp left
    # Connectable at once: the file is written after listen(), not before bind().
    with socket.create_connection(("127.0.0.1", server.port), timeout=5):
        pass


def test_a_port_in_use_exits_2_without_a_port_file(launch: Launch, dists: Dists) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        proc, port_file, stderr = launch(dists.root, "--port", str(taken.getsockname()[1]))
        assert proc.wait(timeout=STARTUP_LIMIT) == 2
    assert "cannot start" in stderr.read_text()
    assert len(stderr.read_text().splitlines()) == 1
    assert not port_file.exists()


@pytest.mark.parametrize("broken", ["garbage", "missing"])
def test_a_bad_certificate_exits_2_with_one_line(launch: Launch, dists: Dists, tmp_path: Path, broken: str) -> None:
    cert = tmp_path / "cert.pem"
    if broken == "garbage":
        cert.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    proc, port_file, stderr = launch(dists.root, "--certfile", str(cert), "--keyfile", str(cert))
    assert proc.wait(timeout=STARTUP_LIMIT) == 2
    lines = stderr.read_text().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("_index_server.py: cannot start:")
    assert not port_file.exists()


def test_sigterm_exits_0_even_with_a_connection_open(serve: Callable[..., Server], dists: Dists, tls: TlsFiles) -> None:
    server = serve(dists.root, "--certfile", str(tls.cert), "--keyfile", str(tls.key))
    # A client that connected and said nothing holds a thread in its TLS handshake.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5):
        time.sleep(0.1)
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=5) == 0
    assert server.stderr.read_text() == ""


def test_make_tls_files_makes_a_new_ca_each_time(tmp_path: Path, tls: TlsFiles) -> None:
    again = make_tls_files(tmp_path / "again")
    assert (again.ca.name, again.cert.name, again.key.name) == ("ca.pem", "server.pem", "server.key")
    assert again.ca.read_bytes() != tls.ca.read_bytes()
    assert again.cert.read_text().count("BEGIN CERTIFICATE") >= 1
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(again.cert, again.key)


def _pip_env() -> dict[str, str]:
    """The caller's environment without what would steer pip elsewhere: its PIP_* settings (a find-links
    folder, another --cert), and REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE, which requests lets override --cert."""
    dropped = {"REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k not in dropped}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INPUT="1", NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1")
    return env


def test_a_real_pip_downloads_and_installs_through_tls_and_auth(
    serve: Callable[..., Server], dists: Dists, tls: TlsFiles, tmp_path: Path
) -> None:
    server = serve(dists.root, "--certfile", str(tls.cert), "--keyfile", str(tls.key), "--user", "u", "--password", "p")
    index = f"https://u:p@127.0.0.1:{server.port}/simple"
    common = ["--no-deps", "--disable-pip-version-check", "--no-cache-dir", "--index-url", index, "--cert", str(tls.ca)]
    pip = [sys.executable, "-m", "pip"]
    download = [*pip, "download", *common, "demo-pkg", "-d", str(tmp_path / "out")]
    done = subprocess.run(download, capture_output=True, text=True, env=_pip_env(), timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / WHEEL).read_bytes() == dists.contents[WHEEL]
    install = [*pip, "install", *common, "--target", str(tmp_path / "target"), "demo-pkg"]
    done = subprocess.run(install, capture_output=True, text=True, env=_pip_env(), timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "target" / "demo_pkg" / "__init__.py").read_bytes() == b'VALUE = "served by the index"\n'
    assert (tmp_path / "target" / "demo_pkg-1.0.dist-info" / "METADATA").exists()
    lines = server.log_lines()
    assert lines.count(f"GET /files/{WHEEL} 200 u") == 2, lines
    assert lines.count("GET /simple/demo-pkg/ 200 u") == 2, lines
    assert all(line.endswith(" 200 u") for line in lines), lines
