"""A real package index on loopback: a PEP 503 simple index over the files of one folder, with real
TLS and real HTTP basic auth when asked, for the scenarios whose bug needs pip to talk to an index.

Runs inside the cell under the interpreter being tested, started as ``python -I -S _index_server.py``,
so it is standard library only and must run on Python 3.8 to 3.13 (see driver.py).

Usage: python -I -S _index_server.py --root WHEELDIR --port-file FILE [--port N] [--host 127.0.0.1]
       [--certfile CERT --keyfile KEY] [--user U --password P] [--log LOGFILE]

The listening port is written to --port-file (atomically, once the socket listens): callers poll for
that file. --log gets one line per response, ``<method> <path> <status> <user-or-dash>``, written and
flushed before the response goes out, so a client that has its answer also finds its line. Start-up
errors (a bad certificate, a port in use) print one line on stderr and exit 2; SIGTERM exits 0.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import html
import os
import re
import shutil
import signal
import socket
import socketserver
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote, urlsplit

# pip (through requests) asks keyring or prompts for credentials only on a 401 that carries a Basic
# challenge; a bare 401 is a plain failure. Scenarios about pip's credential lookup need this header.
REALM = "isolation-harness"
CHALLENGE = 'Basic realm="%s"' % REALM

DIST_SUFFIXES = (".whl", ".tar.gz", ".zip")

# How long an idle keep-alive connection, or a client that never finishes its TLS handshake, may hold
# a thread. Generous: a cell's build may pause between pip's requests.
CONNECTION_TIMEOUT = 60.0

# Every pip since 1.x reads a page served as text/html; pips before 22.2 skip any other content type
# (PEP 691's application/vnd.pypi.simple.v1+html included), so HTML is what the whole matrix reads.
HTML_TYPE = "text/html; charset=utf-8"


def normalize(name):  # type: (str) -> str
    """PEP 503's normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def project_of(filename):  # type: (str) -> str | None
    """The normalized project a distribution's filename belongs to, or None when it is not one."""
    if filename.endswith(".whl"):
        # name-version(-build)?-python-abi-platform.whl: the name never holds a dash (PEP 427 escapes it).
        parts = filename[: -len(".whl")].split("-")
        return normalize(parts[0]) if len(parts) >= 5 and parts[0] else None
    for suffix in (".tar.gz", ".zip"):
        if filename.endswith(suffix):
            stem = filename[: -len(suffix)]
            # An sdist's name may hold dashes (older tools kept them): the version starts after the last
            # dash followed by a digit; failing that, after the last dash.
            match = re.match(r"(.+)-\d", stem)
            name = match.group(1) if match else stem.rpartition("-")[0]
            return normalize(name) if name else None
    return None


class Catalogue:
    """The distributions of the root folder, read afresh on each request (a scenario may add files
    while the server runs), and their sha256 digests, computed on first need and cached."""

    def __init__(self, root):  # type: (str) -> None
        self.root = root
        self._digests = {}  # type: dict[tuple[str, int, int], str]
        self._lock = threading.Lock()

    def projects(self):  # type: () -> dict[str, dict[str, str]]
        """{normalized project: {filename: path}}; symlinks are followed, dotfiles and broken links skipped."""
        found = {}  # type: dict[str, dict[str, str]]
        for filename in sorted(os.listdir(self.root)):
            path = os.path.join(self.root, filename)
            if filename.startswith(".") or not filename.endswith(DIST_SUFFIXES) or not os.path.isfile(path):
                continue
            project = project_of(filename)
            if project:
                found.setdefault(project, {})[filename] = path
        return found

    def file(self, filename):  # type: (str) -> str | None
        """The path of one served file; only names the index lists, so no path reaches outside it."""
        project = project_of(filename)
        return self.projects().get(project or "", {}).get(filename)

    def sha256(self, path):  # type: (str) -> str
        st = os.stat(path)
        key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
        with self._lock:
            known = self._digests.get(key)
        if known is not None:
            return known
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        with self._lock:
            self._digests[key] = digest.hexdigest()
        return digest.hexdigest()


def page(title, links):  # type: (str, list[tuple[str, str]]) -> bytes
    rows = "".join('    <a href="%s">%s</a><br>\n' % (html.escape(href), html.escape(text)) for href, text in links)
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta name="pypi:repository-version" content="1.0">\n'
        "    <title>%s</title>\n  </head>\n  <body>\n%s  </body>\n</html>\n" % (html.escape(title), rows)
    ).encode("utf-8")


def basic_credentials(header):  # type: (str | None) -> tuple[str, bytes] | None
    """(user, raw "user:password" bytes) of a Basic Authorization header, or None."""
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except ValueError:  # binascii.Error included
        return None
    user = raw.split(b":", 1)[0]
    try:
        return user.decode("utf-8"), raw
    except UnicodeDecodeError:
        return user.decode("latin-1"), raw


class RequestLog:
    """The evidence file: one flushed line per response, from any of the server's threads."""

    def __init__(self, path):  # type: (str | None) -> None
        self._fh = open(path, "a", encoding="utf-8") if path else None
        self._lock = threading.Lock()

    def line(self, method, path, status, user):  # type: (str, str, int, str | None) -> None
        if self._fh is None:
            return
        # Percent-encoded, so a user name with a space cannot split the line's four fields.
        who = quote(user, safe="@.+~_-!$&'()*,;=:") if user else "-"
        with self._lock:
            if self._fh is not None:  # closed at shutdown while a request was still answering
                self._fh.write("%s %s %d %s\n" % (method or "-", path or "-", status, who))
                self._fh.flush()

    def close(self):  # type: () -> None
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


class IndexServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host, port, catalogue, log, *, credentials=None, tls=None):
        # type: (str, int, Catalogue, RequestLog, tuple[str, str] | None, ssl.SSLContext | None) -> None
        self.catalogue = catalogue
        self.log = log
        self.tls = tls
        self.expected = set()  # type: set[bytes]
        if credentials is not None:
            text = "%s:%s" % credentials
            # requests (so pip) encodes Basic credentials as latin-1, curl and urllib as UTF-8: accept both.
            self.expected.add(text.encode("utf-8"))
            try:
                self.expected.add(text.encode("latin-1"))
            except UnicodeEncodeError:
                pass
        if ":" in host:
            self.address_family = socket.AF_INET6
        ThreadingHTTPServer.__init__(self, (host, port), IndexHandler)

    def server_bind(self):  # type: () -> None
        # HTTPServer.server_bind looks its own name up with socket.getfqdn, a DNS query that can stall
        # for seconds in a cell without network; the name is never used.
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def authorized(self, header):  # type: (str | None) -> bool
        if not self.expected:
            return True
        given = basic_credentials(header)
        # Compare with every accepted encoding, each in constant time.
        return given is not None and any(hmac.compare_digest(given[1], want) for want in self.expected)

    def finish_request(self, request, client_address):
        """Runs in the connection's own thread: the TLS handshake is made here, not in accept(), so a
        client that stalls in its handshake holds up only itself."""
        if self.tls is None:
            ThreadingHTTPServer.finish_request(self, request, client_address)
            return
        request.settimeout(CONNECTION_TIMEOUT)
        try:
            conn = self.tls.wrap_socket(request, server_side=True)
        except OSError:  # not TLS, an untrusted certificate (the client hangs up), a timeout
            return
        try:
            ThreadingHTTPServer.finish_request(self, conn, client_address)
        finally:
            conn.close()

    def handle_error(self, request, client_address):
        # Clients that hang up mid-answer are routine; anything else is a bug worth its traceback.
        if not isinstance(sys.exc_info()[1], OSError):
            ThreadingHTTPServer.handle_error(self, request, client_address)


class IndexHandler(BaseHTTPRequestHandler):
    # Keep-alive, as a real index gives pip; every answer below carries its Content-Length.
    protocol_version = "HTTP/1.1"
    server_version = "isolation-harness-index/1"
    timeout = CONNECTION_TIMEOUT
    server: IndexServer

    def do_GET(self):  # type: () -> None
        self._answer(body=True)

    def do_HEAD(self):  # type: () -> None
        self._answer(body=False)

    def log_message(self, format, *args):
        pass  # quiet: the request log is the record

    def log_request(self, code="-", size="-"):
        # Every answer passes here (send_response), errors of http.server's own included. The user is
        # the one the client offered, matching or not: evidence of which credentials pip sent.
        headers = getattr(self, "headers", None)
        given = basic_credentials(headers.get("Authorization") if headers is not None else None)
        status = int(code) if isinstance(code, int) else 0
        self.server.log.line(self.command, getattr(self, "path", "-"), status, given[0] if given else None)

    def _answer(self, body):  # type: (bool) -> None
        if not self.server.authorized(self.headers.get("Authorization")):
            self._send(401, b"authentication required\n", "text/plain", body, [("WWW-Authenticate", CHALLENGE)])
            return
        path = unquote(urlsplit(self.path).path)
        if path in ("/", "/simple"):
            self._redirect("/simple/", body)
        elif path == "/simple/":
            links = [("/simple/%s/" % name, name) for name in sorted(self.server.catalogue.projects())]
            self._send(200, page("Simple index", links), HTML_TYPE, body)
        elif path.startswith("/simple/"):
            self._project(path[len("/simple/") :], body)
        elif path.startswith("/files/"):
            self._file(path[len("/files/") :], body)
        else:
            self._send(404, b"not found\n", "text/plain", body)

    def _project(self, name, body):  # type: (str, bool) -> None
        wanted = normalize(name.rstrip("/"))
        files = self.server.catalogue.projects().get(wanted)
        if not files:
            self._send(404, b"no such project\n", "text/plain", body)
        elif name != wanted + "/":
            # PEP 503: a name in another spelling, or without the trailing slash, goes to its normal URL.
            self._redirect("/simple/%s/" % wanted, body)
        else:
            catalogue = self.server.catalogue
            links = [
                ("/files/%s#sha256=%s" % (quote(filename), catalogue.sha256(path)), filename)
                for filename, path in sorted(files.items())
            ]
            self._send(200, page("Links for %s" % wanted, links), HTML_TYPE, body)

    def _file(self, filename, body):  # type: (str, bool) -> None
        path = self.server.catalogue.file(filename)
        try:
            fh = open(path, "rb") if path else None
        except OSError:  # removed since the listing
            fh = None
        if fh is None:
            self._send(404, b"no such file\n", "text/plain", body)
            return
        with fh:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(os.fstat(fh.fileno()).st_size))
            self.end_headers()
            if body:
                shutil.copyfileobj(fh, self.wfile)

    def _redirect(self, location, body):  # type: (str, bool) -> None
        self._send(301, b"moved\n", "text/plain", body, [("Location", location)])

    def _send(self, status, payload, content_type, body, headers=()):
        # type: (int, bytes, str, bool, tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> None
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if body:
            self.wfile.write(payload)


class _Stop(Exception):
    """Raised by the SIGTERM (and SIGINT) handler out of serve_forever, in the main thread."""


def _on_stop(signum, frame):  # type: (int, object) -> None
    signal.signal(signum, signal.SIG_IGN)  # a second signal must not interrupt the clean-up
    raise _Stop()


def _parse(argv):  # type: (list[str] | None) -> argparse.Namespace
    parser = argparse.ArgumentParser(prog="_index_server.py", description="A PEP 503 index over one folder.")
    parser.add_argument("--root", required=True, help="folder of wheels and sdists (symlinks followed)")
    parser.add_argument("--port-file", required=True, help="written with the port once listening")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (the default): any free port")
    parser.add_argument("--certfile", help="PEM certificate chain: serve HTTPS")
    parser.add_argument("--keyfile", help="PEM private key of --certfile")
    parser.add_argument("--user", help="require HTTP basic auth with this user")
    parser.add_argument("--password", help="... and this password")
    parser.add_argument("--log", help="append one line per request to this file")
    args = parser.parse_args(argv)
    if (args.user is None) != (args.password is None):
        parser.error("--user and --password go together")
    if args.keyfile and not args.certfile:
        parser.error("--keyfile needs --certfile")
    if not os.path.isdir(args.root):
        parser.error("--root %s is not a folder" % args.root)
    return args


def _write_port(path, port):  # type: (str, int) -> None
    # Written aside then renamed: a caller polling for the file never reads half of it.
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as fh:
        fh.write("%d\n" % port)
    os.replace(tmp, path)


def _start(args):  # type: (argparse.Namespace) -> IndexServer
    tls = None
    if args.certfile:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.certfile, args.keyfile)
    credentials = (args.user, args.password) if args.user is not None else None
    log = RequestLog(args.log)
    server = None  # type: IndexServer | None
    try:
        server = IndexServer(args.host, args.port, Catalogue(args.root), log, credentials=credentials, tls=tls)
        # Only now, with the socket listening: a caller that has read the port can connect at once.
        _write_port(args.port_file, server.server_address[1])
        return server
    except BaseException:
        if server is not None:
            server.server_close()
        log.close()
        raise


def _serve(args):  # type: (argparse.Namespace) -> int
    try:
        server = _start(args)
    except (OSError, ValueError, OverflowError) as exc:  # ssl.SSLError is an OSError; OverflowError: --port
        sys.stderr.write("_index_server.py: cannot start: %s\n" % " ".join(str(exc).split()))
        return 2
    try:
        server.serve_forever(poll_interval=0.5)
    except _Stop:
        pass
    finally:
        server.server_close()
        server.log.close()
    return 0


def main(argv=None):  # type: (list[str] | None) -> int
    args = _parse(argv)
    # Installed before the socket exists: a SIGTERM at any point after this exits 0.
    signal.signal(signal.SIGTERM, _on_stop)
    signal.signal(signal.SIGINT, _on_stop)
    try:
        return _serve(args)
    except _Stop:
        return 0


if __name__ == "__main__":
    sys.exit(main())
