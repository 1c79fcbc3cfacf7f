"""fever-live: the annotated video demo."""

import numpy as np
import pytest


def test_live_writes_an_annotated_mp4_headless(model_with_probe, videos, tmp_path, capsys):
    from fever.io.video import iter_video_frames, probe_video
    from tools.live import main as live_main

    out = tmp_path / "annotated.mp4"
    assert (
        live_main(
            [
                str(videos / "single_face.mp4"),
                "--out",
                str(out),
                "--model",
                str(model_with_probe),
                "--max-frames",
                "20",
                "--batch-size",
                "8",
                "--report-every",
                "0",
            ]
        )
        == 0
    )
    info = probe_video(out)
    assert (info.width, info.height) == (640, 360)
    frames = list(iter_video_frames(out))
    assert len(frames) == 20
    original = next(iter_video_frames(videos / "single_face.mp4")).array.astype(int)
    assert np.abs(frames[0].array.astype(int) - original).max() > 100  # a box was drawn
    printed = capsys.readouterr()  # progress on stderr while it runs
    assert "fever-live: 8 frames," in printed.err and "fever-live: 20 frames in" in printed.out


def test_live_reports_a_bad_source(model_with_probe, tmp_path, capsys):
    from tools.live import main as live_main

    assert (
        live_main([str(tmp_path / "none.mp4"), "--out", str(tmp_path / "o.mp4"), "--model", str(model_with_probe)]) == 1
    )
    assert "none.mp4: file not found" in capsys.readouterr().err


def test_live_refuses_detect_every_zero_before_any_work(videos, capsys):
    from tools.live import main as live_main

    assert live_main([str(videos / "single_face.mp4"), "--out", "/nonexistent/x.mp4", "--detect-every", "0"]) == 1
    assert "fever-live: error: --batch-size and --detect-every must be 1 or more" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["x.txt", "x", "x.png"])
def test_live_refuses_an_output_it_cannot_write_before_any_work(tmp_path, capsys, name):
    """Issue 26.18: --out x.txt gave PyAV's ValueError traceback after the model had loaded."""
    from tools.live import main as live_main

    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"never read")
    assert live_main([str(clip), "--out", str(tmp_path / name)]) == 1
    err = capsys.readouterr().err
    assert f"--out {tmp_path / name}: the annotated video is H.264 in .m4v, .mkv, .mov, .mp4" in err
    assert "Traceback" not in err and not (tmp_path / name).exists()
