"""Test helpers for the Lambda deployment: the `dynamodb://` URL of a table
prefix, and a real `hubbub aws-local` process on an ephemeral port (the Lambda
handlers behind a local API Gateway, against the DynamoDB of the `dynamodb`
fixture in tests/conftest.py). Shared by tests/aws and tests/session."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import threading
import time
import uuid

from support import WAIT


def store_url(endpoint: str, prefix: str, *, create: bool = False) -> str:
    url = f"dynamodb://?endpoint={endpoint}&region=us-east-1&prefix={prefix}"
    return url + ("&create=1" if create else "")


@dataclasses.dataclass
class AwsLocal:
    proc: subprocess.Popen[str]
    port: int
    url: str  # the store URL the handlers use
    log: list[str]

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/local"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(WAIT)


def start_aws_local(dynamodb: str, *extra: str) -> AwsLocal:
    """Start `hubbub aws-local` on its own table prefix and wait until it
    prints where it listens."""
    prefix = f"e{uuid.uuid4().hex[:10]}-"
    args = [sys.executable, "-m", "hubbub", "aws-local", "--port", "0"]
    args += ["--dynamodb-endpoint", dynamodb, "--prefix", prefix, *extra]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert proc.stdout is not None
    log: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        log.append(line)
        m = re.search(r"listening on ws://127\.0\.0\.1:(\d+)/local", line)
        if m:

            def pump() -> None:  # keep reading, so the process never blocks on a full pipe
                assert proc.stdout is not None
                for rest in proc.stdout:
                    log.append(rest)

            threading.Thread(target=pump, daemon=True).start()
            return AwsLocal(proc, int(m.group(1)), store_url(dynamodb, prefix), log)
    proc.kill()
    raise RuntimeError("aws-local did not start:\n" + "".join(log))
