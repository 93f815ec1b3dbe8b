"""The cell's package index (a scenario's ``index:``), through the whole driver: a real server on
loopback with real TLS (a CA made here) and real basic auth, reached by the runs as the spec says, the
``command-line`` step moving the CA from the environment to the experiment's command line, and a
server that cannot start making the cell a fault (an error), never a verdict. No docker, no pip.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from isolation_harness.packageindex import PackageIndex, cell_index

from .test_driver import PURELIB, make_spec, prepared_image, result_of, run_driver

# The frontend stand-in of these tests: fetches the index page the way its environment and
# command line say (PIP_INDEX_URL or --index-url, PIP_CERT or --cert), and reports what it got.
FETCHER = """\
import base64, json, os, ssl, sys, urllib.error, urllib.request, urllib.parse
args = sys.argv[1:]
def option(name, env):
    return args[args.index(name) + 1] if name in args else os.environ.get(env)
url, cert = option("--index-url", "PIP_INDEX_URL"), option("--cert", "PIP_CERT")
parts = urllib.parse.urlsplit(url)
request = urllib.request.Request(parts._replace(netloc=parts.hostname + ":" + str(parts.port)).geturl())
if parts.username:
    token = base64.b64encode((parts.username + ":" + parts.password).encode()).decode()
    request.add_header("Authorization", "Basic " + token)
context = ssl.create_default_context(cafile=cert) if cert else ssl.create_default_context()
try:
    status = urllib.request.urlopen(request, context=context, timeout=20).status
except urllib.error.HTTPError as exc:
    status = exc.code
except (urllib.error.URLError, ssl.SSLError) as exc:
    status = type(getattr(exc, "reason", exc)).__name__
probe = os.environ["ISOLATION_PROBE_DIR"]
os.makedirs(probe, exist_ok=True)
with open(os.path.join(probe, "frontend.json"), "w") as fh:
    json.dump({"kind": "frontend", "args": args, "status": status, "url": url, "cert": cert,
               "no_index": os.environ.get("PIP_NO_INDEX"), "find_links": os.environ.get("PIP_FIND_LINKS"),
               "stdin": sys.stdin.read()}, fh)
"""


def _spec(tmp_path: Path, index: dict[str, Any], steps: list[dict[str, Any]]) -> dict[str, Any]:
    prepared = prepared_image(tmp_path)
    (tmp_path / "cell" / "venv" / PURELIB / "_fake_frontend.py").write_text(FETCHER)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "demo_pkg-1.0-py3-none-any.whl").write_bytes(b"not really a wheel")
    return make_spec(tmp_path, steps, prepared=str(prepared), index=index, action_args=["install"])


def _report(result: dict[str, Any], run: str) -> dict[str, Any]:
    (report,) = [r for r in result["runs"][run]["reports"] if r.get("kind") == "frontend"]
    return dict(report)


def test_runs_reach_a_real_tls_index_with_auth_and_the_command_line_step_moves_the_ca(tmp_path: Path) -> None:
    index = cell_index(
        PackageIndex(tls=True, auth=True, env=(("PIP_CERT", "{index_ca}"), ("PIP_INDEX_URL", "{index_url_auth}")))
    )
    steps = [
        # The experiment: the CA on the command line instead of the environment, the URL without
        # credentials (the server must refuse it: 401).
        {
            "kind": "command-line",
            "args": ["--index-url", "{index_url}", "--cert", "{index_ca}"],
            "instead_of": ["PIP_CERT"],
        },
        {"kind": "command-line", "args": [], "instead_of": [], "stdin": "{index_user}\n"},
    ]
    result = result_of(_spec(tmp_path, index, steps))
    assert "fault" not in result
    assert result["index"]["tls"] is True
    assert result["index"]["auth"] is True
    assert result["index"]["url"].startswith("https://localhost:")
    control, experiment = _report(result, "control"), _report(result, "experiment")
    # The runs see the index, not the wheel directory the set-up used.
    assert (control["no_index"], control["find_links"]) == (None, None)
    assert control["status"] == 200
    assert control["url"].startswith(f"https://ih-user:{index['password']}@localhost:")
    assert control["cert"] == str(tmp_path / "cell" / "index" / "ca.pem")
    assert experiment["args"][1:] == ["--index-url", result["index"]["url"], "--cert", control["cert"]]
    assert experiment["status"] == 401
    assert (control["stdin"], experiment["stdin"]) == ("", "ih-user\n")  # typed in the experiment only
    log = (tmp_path / "out" / "index.log").read_text().splitlines()
    assert log == ["GET /simple/ 200 ih-user", "GET /simple/ 401 -"]


def test_without_the_ca_the_index_is_not_trusted(tmp_path: Path) -> None:
    index = cell_index(PackageIndex(tls=True, env=(("PIP_INDEX_URL", "{index_url}"),)))
    result = result_of(_spec(tmp_path, index, []))
    assert _report(result, "control")["status"] == "SSLCertVerificationError"


def test_an_index_that_does_not_start_is_a_fault_before_the_control(tmp_path: Path) -> None:
    index = cell_index(PackageIndex(tls=True))
    index["cert"] = "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n"
    spec = _spec(tmp_path, index, [])
    proc = run_driver(spec)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["fault"].startswith("the package index in the cell did not start: ")
    assert "cannot start" in result["fault"]
    assert "runs" not in result
