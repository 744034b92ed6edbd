"""A real HTTP server on 127.0.0.1 speaking the parts of the Hugging Face hub protocol that
``huggingface_hub`` uses to download and upload, with fault injection.

Download: ``HEAD``/``GET /{repo}/resolve/{revision}/{path}``. Small files are answered directly
(``X-Repo-Commit``, ``ETag``, ``Content-Length``); ``.safetensors`` files are "LFS": the hub
answers 302 with ``Location`` on a second port (the CDN, another origin, so the client does not
follow it on HEAD) plus ``X-Linked-Etag`` (the sha256) and ``X-Linked-Size``, and the CDN serves
``GET /blobs/{sha256}`` with ``Range`` support. Errors carry the ``X-Error-Code`` the client maps
to its exceptions (RepoNotFound, RevisionNotFound, EntryNotFound).

Upload: ``POST /api/repos/create``, ``POST /api/validate-yaml`` (the model card's front matter),
``POST /api/models/{repo}/preupload/{rev}`` (every file "regular") and
``POST /api/models/{repo}/commit/{rev}`` (ndjson, base64 contents).

Faults (``inject``): ``"404"``, ``"500"``, ``"truncate"`` (close the connection half way, or with
``lie=True`` also send a short ``Content-Length``), ``"corrupt"`` (flip bytes, same size) and
``"slow"`` (``delay`` seconds before the body), each for the next ``times`` matching requests.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ["HubServer", "Fault"]

_RESOLVE = re.compile(r"^/(?:api/)?(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")
_BLOB = re.compile(r"^/blobs/(?P<sha>[0-9a-f]{64})$")
_API = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/(?P<op>preupload|commit)/(?P<rev>[^/]+)$")


@dataclass
class Fault:
    kind: str  # 404 | 500 | truncate | corrupt | slow
    method: str  # HEAD or GET
    match: str  # substring of the request path ("" matches all)
    times: int
    delay: float = 0.0
    lie: bool = False


@dataclass
class _Repo:
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    token: str | None = None  # private repo: requests need "Authorization: Bearer <token>"


class HubServer:
    """Start with ``with HubServer() as hub:``; ``hub.endpoint`` is the ``HF_ENDPOINT`` to use."""

    def __init__(self) -> None:
        self.repos: dict[str, _Repo] = {}
        self.blobs: dict[str, bytes] = {}
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str]] = []  # (method, path) of every request, on arrival
        self.lock = threading.Lock()
        self._hub = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, cdn=False))
        self._cdn = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, cdn=True))
        self._threads: list[threading.Thread] = []

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._hub.server_address[1]}"

    @property
    def cdn(self) -> str:
        return f"http://127.0.0.1:{self._cdn.server_address[1]}"

    def __enter__(self) -> "HubServer":
        for srv in (self._hub, self._cdn):
            t = threading.Thread(target=srv.serve_forever, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def __exit__(self, *exc: object) -> None:
        for srv in (self._hub, self._cdn):
            srv.shutdown()
            srv.server_close()

    # --- content ---------------------------------------------------------------------------
    def commit(self, repo_id: str, files: dict[str, bytes], branch: str = "main",
               token: str | None = None) -> str:
        """Add a commit with ``files`` (on top of the branch's files); returns its 40-hex hash."""
        with self.lock:
            repo = self.repos.setdefault(repo_id, _Repo())
            if token is not None:
                repo.token = token
            parent = repo.refs.get(branch)
            tree = dict(repo.commits[parent]) if parent else {}
            tree.update(files)
            h = hashlib.sha1((parent or "").encode())
            for name in sorted(tree):
                h.update(name.encode() + b"\0" + hashlib.sha256(tree[name]).digest())
            sha = h.hexdigest()
            repo.commits[sha] = tree
            repo.refs[branch] = sha
            for data in tree.values():
                self.blobs[hashlib.sha256(data).hexdigest()] = data
            return sha

    def commit_folder(self, repo_id: str, folder: str | Path, **kw) -> str:
        folder = Path(folder)
        return self.commit(repo_id, {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}, **kw)

    def inject(self, kind: str, method: str = "GET", match: str = "", times: int = 1,
               delay: float = 0.0, lie: bool = False) -> None:
        with self.lock:
            self.faults.append(Fault(kind, method, match, times, delay, lie))

    def requests(self, method: str | None = None, contains: str = "") -> list[tuple[str, str]]:
        with self.lock:
            return [r for r in self.log if (method is None or r[0] == method) and contains in r[1]]

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if f.times > 0 and f.method == method and f.match in path:
                    f.times -= 1
                    return f
        return None


def _handler(hub: HubServer, cdn: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep pytest output clean
            pass

        # --- helpers -------------------------------------------------------------------------
        def _send(self, status: int, headers: dict[str, str], body: bytes = b"",
                  head: bool = False) -> None:
            try:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head and body:
                    self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
                self.close_connection = True

        def _error(self, status: int, code: str | None, msg: str, extra: dict | None = None) -> None:
            headers = {"Content-Type": "application/json", **(extra or {})}
            if code:
                headers["X-Error-Code"] = code
            headers["X-Error-Message"] = msg
            self._send(status, headers, json.dumps({"error": msg}).encode(), head=self.command == "HEAD")

        def _authorized(self, repo: _Repo) -> bool:
            return repo.token is None or self.headers.get("Authorization") == f"Bearer {repo.token}"

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        # --- download ------------------------------------------------------------------------
        def do_HEAD(self) -> None:
            self._get(head=True)

        def do_GET(self) -> None:
            self._get(head=False)

        def _get(self, head: bool) -> None:
            path = urlsplit(self.path).path
            with hub.lock:
                hub.log.append((self.command, path))
            fault = hub._take_fault(self.command, path)
            if fault and fault.kind == "404":
                return self._error(404, None, "injected 404")
            if fault and fault.kind == "500":
                return self._error(500, None, "injected 500")
            if fault and fault.kind == "slow":
                time.sleep(fault.delay)
            if cdn:
                m = _BLOB.match(path)
                data = hub.blobs.get(m["sha"]) if m else None
                if data is None:
                    return self._error(404, None, "no such blob")
                return self._serve_bytes(data, {"ETag": f'"{m["sha"]}"'}, head, fault)
            m = _RESOLVE.match(path)
            if not m:
                return self._error(404, None, f"not a hub route: {path}")
            repo = hub.repos.get(m["repo"])
            if repo is None or not self._authorized(repo):
                return self._error(401, "RepoNotFound", "Repository not found")
            rev = unquote(m["rev"])
            commit = repo.refs.get(rev, rev if rev in repo.commits else None)
            if commit is None:
                return self._error(404, "RevisionNotFound", "Invalid rev id")
            name = unquote(m["path"])
            data = repo.commits[commit].get(name)
            if data is None:
                return self._error(404, "EntryNotFound", "Entry not found", {"X-Repo-Commit": commit})
            sha256 = hashlib.sha256(data).hexdigest()
            if name.endswith(".safetensors"):  # an LFS file: the hub redirects to the CDN
                return self._send(302, {
                    "Location": f"{hub.cdn}/blobs/{sha256}", "X-Repo-Commit": commit,
                    "X-Linked-Etag": f'"{sha256}"', "X-Linked-Size": str(len(data)),
                    "ETag": f'"{hashlib.sha1(data).hexdigest()}"',
                }, head=head)
            git_sha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            self._serve_bytes(data, {"X-Repo-Commit": commit, "ETag": f'"{git_sha}"'}, head, fault)

        def _serve_bytes(self, data: bytes, headers: dict[str, str], head: bool, fault: Fault | None) -> None:
            status, start = 200, 0
            rng = re.match(r"bytes=(\d+)-$", self.headers.get("Range", ""))
            if rng and int(rng[1]) < len(data):
                start = int(rng[1])
                status = 206
                headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            body = data[start:]
            headers.setdefault("Content-Type", "application/octet-stream")
            headers["Accept-Ranges"] = "bytes"
            if head:
                return self._send(status, {**headers, "Content-Length": str(len(body))}, head=True)
            if fault and fault.kind == "corrupt":
                mid = len(body) // 2
                body = body[:mid] + bytes(b ^ 0xFF for b in body[mid:mid + 64]) + body[mid + 64:]
            if fault and fault.kind == "truncate":
                half = body[: len(body) // 2]
                length = len(half) if fault.lie else len(body)
                self._send(status, {**headers, "Content-Length": str(length)}, half)
                self.wfile.flush()
                self.close_connection = True  # the peer sees the connection end mid-body
                return
            self._send(status, headers, body)

        # --- upload --------------------------------------------------------------------------
        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            body = self._body()
            with hub.lock:
                hub.log.append((self.command, path))
            if path == "/api/repos/create":
                req = json.loads(body)
                repo_id = f"{req['organization']}/{req['name']}" if req.get("organization") else req["name"]
                with hub.lock:
                    exists = repo_id in hub.repos
                    hub.repos.setdefault(repo_id, _Repo())
                url = json.dumps({"url": f"{hub.endpoint}/{repo_id}"}).encode()
                if exists:  # the hub's 409 also names the repo
                    return self._send(409, {"Content-Type": "application/json",
                                            "X-Error-Message": "You already created this model repo"}, url)
                return self._send(200, {"Content-Type": "application/json"}, url)
            if path == "/api/validate-yaml":  # model card metadata: front matter with a license
                content = json.loads(body)["content"]
                front = re.match(r"^---\n(.*?)\n---\n", content, re.S)
                errors = [] if front and re.search(r"^license: \S+", front[1], re.M) else \
                    [{"message": "README.md needs YAML front matter with a license"}]
                return self._send(400 if errors else 200, {"Content-Type": "application/json"},
                                  json.dumps({"errors": errors, "warnings": []}).encode())
            m = _API.match(path)
            if not m or m["repo"] not in hub.repos:
                return self._error(404, "RepoNotFound", "Repository not found")
            if m["op"] == "preupload":
                files = json.loads(body)["files"]
                out = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
                       for f in files]
                return self._send(200, {"Content-Type": "application/json"},
                                  json.dumps({"files": out}).encode())
            files, summary = {}, ""
            for line in body.decode().splitlines():
                item = json.loads(line)
                if item["key"] == "header":
                    summary = item["value"]["summary"]
                elif item["key"] == "file":
                    files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                else:
                    return self._error(400, None, f"unsupported commit operation {item['key']}")
            sha = hub.commit(m["repo"], files, branch=unquote(m["rev"]))
            with hub.lock:
                hub.log.append(("COMMIT", f"{m['repo']}:{summary}"))
            self._send(200, {"Content-Type": "application/json"}, json.dumps({
                "commitOid": sha, "commitUrl": f"{hub.endpoint}/{m['repo']}/commit/{sha}",
                "pullRequestUrl": None}).encode())

    return Handler
