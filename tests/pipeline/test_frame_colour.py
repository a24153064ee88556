"""Frames taken from a clip to be sent on (the previous shot's last frame as the next one's
reference image, a preview's first frame as the final's keyframe) keep the clip's colours: an
untagged HD clip is read as BT.709, as players show it."""

from __future__ import annotations

import cv2

from pipeline.commit_versions import first_frame, middle_frame
from pipeline.continuity import last_frame
from tests.media.flat import RED, flat_clip, off_by


def test_frames_sent_on_keep_an_untagged_hd_clips_colour(tmp_path):
    clip = flat_clip(tmp_path / "hd.mp4", (1280, 720), RED, "bt709", tag=False)
    for taken in (last_frame(clip, tmp_path / "last.png"), first_frame(clip, tmp_path / "f.png")):
        bgr = cv2.imread(str(taken), cv2.IMREAD_COLOR)
        assert bgr is not None
        assert off_by(bgr[360, 640][::-1], RED) <= 6, (taken.name, bgr[360, 640])
    assert off_by(middle_frame(clip)[360, 640][::-1], RED) <= 6
