"""A real S3-compatible server for tests: moto's (``python -m moto.server``, moto 5.2) in a process
of its own on loopback, and fresh buckets on it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Server:
    endpoint: str
    pid: int

    def cpu_seconds(self) -> float:
        """The server process's CPU time so far (Linux ``/proc``)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def moto_server() -> Iterator[Server]:
    """Start the server; yields its endpoint URL and process id."""
    port = _free_port()
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("moto's S3 server did not start") from None
                time.sleep(0.1)
        yield Server(f"http://127.0.0.1:{port}", process.pid)
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass(frozen=True)
class Bucket:
    endpoint: str
    name: str
    prefix: str
    client: Any

    @property
    def url(self) -> str:
        return f"s3://{self.name}/{self.prefix}"

    def env(self) -> dict[str, str]:
        """The settings pointing shotline at this bucket."""
        return {
            "SHOTLINE_ASSET_STORE": self.url,
            "SHOTLINE_S3_ENDPOINT_URL": self.endpoint,
            "SHOTLINE_S3_REGION": REGION,
            "SHOTLINE_S3_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
            "SHOTLINE_S3_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
        }

    def object_keys(self) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def read(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        return body


def new_bucket(endpoint: str) -> Bucket:
    client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)
    name = f"shotline-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return Bucket(endpoint, name, "deliveries", client)
