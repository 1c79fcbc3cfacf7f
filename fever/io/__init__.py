"""Reading images and videos robustly: every failure names the file and the problem."""

from .images import IMAGE_EXTENSIONS, LoadedImage, load_image
from .video import VIDEO_EXTENSIONS, VideoFrame, iter_video_frames, probe_video

__all__ = [
    "IMAGE_EXTENSIONS",
    "LoadedImage",
    "VIDEO_EXTENSIONS",
    "VideoFrame",
    "iter_video_frames",
    "load_image",
    "probe_video",
]
