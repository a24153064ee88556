"""Where the files machines share live: shot assets, normalised segments, outputs and their
variants and sidecars. The pipeline writes a file on the local disk, ``put``s it and records the
reference ``put`` returns in its rows; a reader turns a reference back into a local path with
``local``. FFmpeg's scratch files stay in the local work directory.

- ``LocalStore`` (default): the file stays where it was written and its reference is its path, so
  rows, paths and downloads are what they were before there was a store.
- ``S3Store`` (``SHOTLINE_ASSET_STORE=s3://bucket/prefix``): the file goes to an S3-compatible
  bucket under ``prefix/<tenant>/<job>/<put id>/<name>`` and its reference is that ``s3://`` URL;
  ``local`` downloads it once into this machine's asset directory (``.store/``), a cache; on the
  machine that put it, the cache links to the written file. Each put gets a fresh directory, so an
  object is never overwritten and no other machine's cache goes stale.

A file travels with its siblings (the files of its directory named ``<stem>.*``): a segment's
audio, edges, track and thumbnail, an output's variants, captions, edit files and plan.
"""

from __future__ import annotations

import glob
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from foundation.errors import InvalidInputError, NotFoundError, Problem, ShotlineError
from foundation.settings import Settings, SettingsError

SCHEME = "s3://"
_STORE = "SHOTLINE_ASSET_STORE"
TRANSIENT_CODES = frozenset({"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable"})


class AssetStoreUnavailableError(ShotlineError):
    """The bucket could not be reached or answered with a server error: the step that met it is
    retried later (``flow.RETRY_LATER``), never failed with the paid work it carries."""

    status_code = 503
    retriable = True


@contextmanager
def _reachable(action: str) -> Iterator[None]:
    """Turn the bucket's transient failures (connection, timeout, 5xx, SlowDown; and uploads that
    boto3's transfer gave up on) into ``AssetStoreUnavailableError``; other answers pass."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, S3UploadFailedError) as exc:
        raise AssetStoreUnavailableError(f"the asset store could not {action}: {exc}") from exc
    except ClientError as exc:
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if status >= 500 or exc.response.get("Error", {}).get("Code") in TRANSIENT_CODES:
            raise AssetStoreUnavailableError(f"the asset store could not {action}: {exc}") from exc
        raise


def is_remote(ref: str) -> bool:
    """Whether ``ref`` names an object of a remote store (not a local path)."""
    return ref.startswith(SCHEME)


def siblings(path: Path) -> list[Path]:
    """``path`` and the files beside it named ``<its stem>.*``."""
    found = sorted(
        p for p in path.parent.glob(f"{glob.escape(path.stem)}.*") if p.is_file() and p != path
    )
    return [path, *found]


def sibling(ref: str, suffix: str) -> str:
    """The reference of ``ref``'s sibling ``<stem>.<suffix>`` (a path or a URL alike)."""
    head, _, name = ref.rpartition("/")
    return f"{head}/{Path(name).stem}.{suffix}"


class ForeignAssetError(ShotlineError):
    """A stored reference outside this process's asset store: the deployment's processes do not
    share one store (a server's mistake, not the caller's: 500, not 422)."""


class AssetStore(Protocol):
    """Keeps the files every machine of a deployment must see. References are strings."""

    remote: bool

    def put(self, path: Path, scope: str, *, alone: bool = False) -> str:
        """Store ``path`` with its siblings for ``scope`` (``<tenant>/<job>``); its reference.
        ``alone``: without its siblings (a user's file: the files beside it are not ours)."""
        ...

    def local(self, ref: str) -> Path:
        """A local path holding ``ref`` and its siblings (downloaded here when needed)."""
        ...

    def exists(self, ref: str) -> bool: ...

    def url(self, ref: str, filename: str | None = None) -> str | None:
        """A signed URL a client downloads ``ref`` from, or None when the store is local."""
        ...

    def forget(self, scope: str) -> None:
        """Delete what was put for ``scope`` (the local store leaves files to their owner)."""
        ...

    def check(self) -> None:
        """Raise unless this process can use the store: before a job is made, so that a store
        that will never answer is named instead of the job waiting on it."""
        ...


class LocalStore:
    remote = False

    def put(self, path: Path, scope: str, *, alone: bool = False) -> str:
        return str(path)

    def local(self, ref: str) -> Path:
        return Path(ref)

    def exists(self, ref: str) -> bool:
        return Path(ref).is_file()

    def url(self, ref: str, filename: str | None = None) -> str | None:
        return None

    def forget(self, scope: str) -> None:
        return None

    def check(self) -> None:
        return None


class S3Store:
    """An S3-compatible bucket through boto3 (``upload_file``, ``download_file``,
    ``generate_presigned_url``; boto3 1.44 docs, S3 client). ``cache`` is this machine's copy.
    A file's siblings are uploaded and downloaded in parallel."""

    remote = True

    def __init__(self, bucket: str, prefix: str, cache: Path, client: Any, ttl_s: int) -> None:
        self.bucket, self.prefix, self.cache = bucket, prefix.strip("/"), cache
        self.client, self.ttl_s = client, ttl_s

    def check(self) -> None:
        """``head_bucket``: ``AssetStoreUnavailableError`` when the bucket cannot be reached (after
        boto3's retries), ``SettingsError`` when it answers that it is missing or not ours."""
        from botocore.exceptions import ClientError

        try:
            with _reachable(f"reach bucket {self.bucket}"):
                self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code") or "an error"
            why = f"bucket {self.bucket} answers {code} to HEAD (missing, or not this key's)"
            raise SettingsError("the asset store cannot be used", [Problem(_STORE, why)]) from None

    def _key(self, scope: str, name: str) -> str:
        return "/".join(
            p for p in (self.prefix, scope.strip("/"), uuid.uuid4().hex[:12], name) if p
        )

    def _split(self, ref: str) -> str:
        if not ref.startswith(f"{SCHEME}{self.bucket}/"):
            raise ForeignAssetError(
                f"{PurePosixPath(ref).name} is not in the asset store s3://{self.bucket}: it was "
                "stored by a process with another SHOTLINE_ASSET_STORE (every API process and "
                "worker of a deployment must name the same store)"
            )
        return ref[len(SCHEME) + len(self.bucket) + 1 :]

    def put(self, path: Path, scope: str, *, alone: bool = False) -> str:
        key = self._key(scope, path.name)
        folder = key.rpartition("/")[0]
        files = [path] if alone else siblings(path)
        with _reachable(f"store {path.name}"):
            _each(
                lambda f: self.client.upload_file(str(f), self.bucket, f"{folder}/{f.name}"), files
            )
        for file in files:
            _keep(file, self.cache / folder / file.name)
        return f"{SCHEME}{self.bucket}/{key}"

    def local(self, ref: str) -> Path:
        if not ref.startswith(SCHEME):  # a row written before the store was remote
            return Path(ref)
        key = self._split(ref)
        path = self.cache / key
        if path.is_file():  # put from this machine (a link to its file), or downloaded before
            return path.resolve()
        folder, _, name = key.rpartition("/")
        with _reachable(f"fetch {name}"):
            listed = self.client.list_objects_v2(
                Bucket=self.bucket, Prefix=f"{folder}/{Path(name).stem}."
            )
            missing = [
                i["Key"]
                for i in listed.get("Contents", [])
                if not (self.cache / i["Key"]).is_file()
            ]
            _each(lambda key: _download(self.client, self.bucket, key, self.cache / key), missing)
        if not path.is_file():
            raise NotFoundError(f"{ref} is not in the asset store")
        return path

    def exists(self, ref: str) -> bool:
        if not ref.startswith(SCHEME):
            return Path(ref).is_file()
        if not ref.startswith(f"{SCHEME}{self.bucket}/"):  # another bucket's: not in this store
            return False
        if (self.cache / self._split(ref)).is_file():
            return True
        from botocore.exceptions import ClientError

        try:
            with _reachable("look up an object"):
                self.client.head_object(Bucket=self.bucket, Key=self._split(ref))
        except ClientError:  # 404 and the like: not there
            return False
        return True

    def url(self, ref: str, filename: str | None = None) -> str | None:
        params = {"Bucket": self.bucket, "Key": self._split(ref)}
        if filename:
            params["ResponseContentDisposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
        url: str = self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=self.ttl_s
        )
        return url

    def forget(self, scope: str) -> None:
        prefix = "/".join(p for p in (self.prefix, scope.strip("/")) if p) + "/"
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        for page in pages:
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})
        shutil.rmtree(self.cache / prefix, ignore_errors=True)


def _each(work: Callable[[Any], None], items: list[Any]) -> None:
    """``work`` on every item, at most eight at once (a file's siblings travel in parallel)."""
    if not items:
        return
    with ThreadPoolExecutor(max_workers=min(8, len(items))) as pool:
        for done in [pool.submit(work, item) for item in items]:
            done.result()


def _keep(source: Path, target: Path) -> None:
    """Point the cache at the writer's own file (a symbolic link): this machine reads the file
    where it was written, beside what was made with it (a segment's prerendered windows)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    link = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.link")
    link.symlink_to(source.resolve())
    os.replace(link, target)


def _download(client: Any, bucket: str, key: str, target: Path) -> None:
    """Download to a temporary name first: another process may read the same cache meanwhile."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        client.download_file(bucket, key, str(partial))
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def store_for(settings: Settings) -> AssetStore:
    """The store ``settings`` name: local unless ``asset_store`` is an ``s3://`` URL."""
    if not settings.asset_store:
        return LocalStore()
    if not settings.asset_store.startswith(SCHEME):
        raise InvalidInputError(
            f"SHOTLINE_ASSET_STORE must be an s3:// URL, not {settings.asset_store}"
        )
    parts = urlsplit(settings.asset_store)
    secret = settings.s3_secret_access_key
    return _s3_store(
        parts.netloc,
        parts.path,
        settings.assets / ".store",
        settings.s3_endpoint_url,
        settings.s3_region,
        settings.s3_access_key_id,
        secret.get_secret_value() if secret else None,
        settings.asset_url_ttl_s,
    )


@lru_cache(maxsize=8)
def _s3_store(
    bucket: str,
    prefix: str,
    cache: Path,
    endpoint: str | None,
    region: str | None,
    key_id: str | None,
    secret: str | None,
    ttl_s: int,
) -> S3Store:
    """One client per configuration and process (boto3 clients are thread-safe; creating one
    costs tens of milliseconds)."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise InvalidInputError(
            "the S3 asset store needs boto3: pip install 'shotline[s3]'"
        ) from exc
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(signature_version="s3v4", retries={"mode": "standard"}),
    )
    return S3Store(bucket, prefix, cache, client, ttl_s)
