"""The exact fields `transmission-remote -l` asks for, read from the installed program.

Debian's transmission-remote 3.00 is run against a tiny loopback server that answers the
session-id handshake and an empty torrent list, and records the request body. The
benchmark then replays that body, so it times exactly what the real program sends. If
transmission-remote is missing, the list 3.00's remote.c sends is used (and said so).
"""

from __future__ import annotations

import http.server
import json
import shutil
import subprocess
import threading
from typing import Any

__all__ = ["REMOTE_30_FIELDS", "remote_list_fields"]

# What transmission-remote 3.00 (bb6b5a062e) sent for -l when captured on this machine.
REMOTE_30_FIELDS = [
    "error",
    "errorString",
    "eta",
    "id",
    "isFinished",
    "leftUntilDone",
    "name",
    "peersGettingFromUs",
    "peersSendingToUs",
    "rateDownload",
    "rateUpload",
    "sizeWhenDone",
    "status",
    "uploadRatio",
]


def remote_list_fields() -> tuple[list[str], str]:
    """(fields, where they came from)."""
    program = shutil.which("transmission-remote")
    if program is None:
        return list(REMOTE_30_FIELDS), "transmission-remote 3.00's list (program not installed)"
    bodies: list[dict[str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if "X-Transmission-Session-Id" not in self.headers:
                self.send_response(409)
                self.send_header("X-Transmission-Session-Id", "bench")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            request = json.loads(body)
            bodies.append(request)
            reply = {"result": "success", "arguments": {"torrents": []}, "tag": request.get("tag")}
            out = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        version = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=30)
        subprocess.run(
            [program, f"127.0.0.1:{port}", "-l"], capture_output=True, timeout=30, check=False
        )
    finally:
        server.shutdown()
        server.server_close()
    gets = [b for b in bodies if b.get("method") == "torrent-get"]
    if not gets:
        return list(REMOTE_30_FIELDS), "transmission-remote 3.00's list (capture failed)"
    fields: list[str] = list(gets[0]["arguments"]["fields"])
    said = (version.stdout or version.stderr).strip().splitlines()
    return fields, f"captured from `{said[0] if said else program} -l`"
