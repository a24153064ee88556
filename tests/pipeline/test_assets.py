"""The asset store: the local one leaves files where they are; the S3 one, against a real
S3-compatible server on loopback, round-trips a file with its siblings and signs downloads."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.errors import InvalidInputError, NotFoundError
from foundation.settings import Settings, get_settings
from pipeline.assets import ForeignAssetError, LocalStore, S3Store, sibling, store_for
from tests import web


def _files(folder: Path) -> Path:
    folder.mkdir(parents=True)
    clip = folder / "segment-a.mp4"
    clip.write_bytes(b"video" * 1000)
    (folder / "segment-a.f32").write_bytes(b"audio")
    (folder / "segment-a.edges.npz").write_bytes(b"edges")
    (folder / "segment-b.mp4").write_bytes(b"another shot")
    return clip


class TestLocal:
    def test_the_reference_is_the_path_and_nothing_moves(self, tmp_path):
        clip = _files(tmp_path / "work")
        store = store_for(get_settings())
        assert isinstance(store, LocalStore)
        ref = store.put(clip, "acme/job1")
        assert ref == str(clip)
        assert store.local(ref) == clip
        assert store.exists(ref)
        assert store.url(ref) is None
        assert sibling(ref, "f32") == str(tmp_path / "work" / "segment-a.f32")


class TestS3:
    def test_a_file_and_its_siblings_round_trip_between_machines(self, tmp_path, s3_bucket):
        clip = _files(tmp_path / "work")
        store = store_for(get_settings())
        assert isinstance(store, S3Store)
        ref = store.put(clip, "acme/job1")
        assert ref.startswith(f"s3://{s3_bucket.name}/deliveries/acme/job1/")
        folder = ref.removeprefix(f"s3://{s3_bucket.name}/").rpartition("/")[0]
        assert s3_bucket.object_keys() == [
            f"{folder}/{name}" for name in ("segment-a.edges.npz", "segment-a.f32", "segment-a.mp4")
        ]  # segment-b is not a sibling
        # another machine: its own cache, nothing of this one's disk
        other = S3Store(s3_bucket.name, "deliveries", tmp_path / "other", store.client, 60)
        fetched = other.local(ref)
        assert fetched.is_relative_to(tmp_path / "other")
        assert fetched.read_bytes() == clip.read_bytes()
        assert fetched.with_suffix(".f32").read_bytes() == b"audio"
        assert other.exists(ref)
        assert not other.exists(sibling(ref, "srt"))
        with pytest.raises(NotFoundError):
            other.local(sibling(ref, "srt"))

    def test_each_put_has_its_own_objects(self, tmp_path, s3_bucket):
        clip = _files(tmp_path / "work")
        store = store_for(get_settings())
        assert isinstance(store, S3Store)
        first = store.put(clip, "acme/job1")
        clip.write_bytes(b"re-rendered")
        second = store.put(clip, "acme/job1")
        assert first != second
        assert store.local(second) == clip  # the writer reads its own file
        other = S3Store(s3_bucket.name, "deliveries", tmp_path / "other", store.client, 60)
        assert other.local(first).read_bytes() == b"video" * 1000
        assert other.local(second).read_bytes() == b"re-rendered"

    def test_a_signed_url_downloads_the_object(self, tmp_path, s3_bucket):
        clip = _files(tmp_path / "work")
        store = store_for(get_settings())
        ref = store.put(clip, "acme/job1")
        url = store.url(ref, "job1.mp4")
        assert url is not None
        assert url.startswith(s3_bucket.endpoint)
        assert "X-Amz-Signature=" in url
        answer = web.get(url)
        assert answer.status_code == 200
        assert answer.content == clip.read_bytes()
        assert "job1.mp4" in answer.headers["content-disposition"]
        ranged = web.get(url, headers={"Range": "bytes=0-4"})
        assert (ranged.status_code, ranged.content) == (206, b"video")

    def test_forget_deletes_the_jobs_objects_only(self, tmp_path, s3_bucket):
        clip = _files(tmp_path / "work")
        store = store_for(get_settings())
        store.put(clip, "acme/job1")
        kept = store.put(clip, "acme/job2")
        store.forget("acme/job1")
        assert all("/job2/" in key for key in s3_bucket.object_keys())
        assert store.exists(kept)

    def test_a_row_written_before_the_store_was_remote_stays_a_path(self, tmp_path, s3_bucket):
        clip = _files(tmp_path / "work")
        store = store_for(get_settings())
        assert store.local(str(clip)) == clip
        assert store.exists(str(clip))

    def test_an_object_of_another_store_is_named_a_deployment_mistake(self, tmp_path, s3_bucket):
        """A worker with another SHOTLINE_ASSET_STORE delivered into its own store: downloads
        were refused as the caller's 422 "not in the asset store", naming no cause."""
        store = store_for(get_settings())
        foreign = "s3://another-bucket/deliveries/acme/job1/abc/output.mp4"
        assert store.exists(foreign) is False  # a storyboard naming it is refused at planning
        with pytest.raises(ForeignAssetError) as caught:
            store.url(foreign, "output.mp4")
        assert caught.value.status_code == 500
        assert "output.mp4 is not in the asset store s3://" in caught.value.message
        assert "another SHOTLINE_ASSET_STORE" in caught.value.message
        assert "another-bucket" not in caught.value.message


def test_an_asset_store_that_is_not_s3_is_refused():
    with pytest.raises(InvalidInputError):
        store_for(Settings(asset_store="gs://bucket/x"))
