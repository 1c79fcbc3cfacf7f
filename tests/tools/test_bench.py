"""fever-bench: speed and bf16 faithfulness figures (measured by the command, never asserted as times)."""

import pytest


@pytest.mark.slow  # 18 s on an AVX2-only CPU, where its bf16 half is emulated
def test_bench_reports_speed_and_bf16_faithfulness(tiny_model_dir):
    from tools.bench import bench_crops

    r = bench_crops(str(tiny_model_dir), batch_size=16, repeats=1, data_root=None, threads=None)
    assert r["model"] == "tiny-test-student" and r["crops"] == 512
    assert set(r["precisions"]) == {"fp32", "bf16"} and all(
        v["crops_per_s_median"] > 0 for v in r["precisions"].values()
    )
    assert 0.9 < r["bf16_vs_fp32_cosine"]["min"] <= r["bf16_vs_fp32_cosine"]["mean"] <= 1.0 + 1e-6


def test_tracks_benchmark_reports_cuts_and_tracks(tiny_model_dir, videos, tmp_path, capsys):
    import json

    from tools.bench import main

    out = tmp_path / "tracks.json"
    args = ["tracks", str(videos / "single_face.mp4"), "--model", str(tiny_model_dir), "--json", str(out)]
    assert main(args) == 0
    row = json.loads(out.read_text())[0]
    assert row["video"] == "single_face.mp4" and row["frames"] == 72 and row["cuts"] == []
    assert row["full_tracks"] == 1 and row["short_tracks"] == 0 and row["full_rows"] == row["kept_rows"] == 72
    assert 0 < row["keyframe_rows"] <= 72 and row["largest_change_within_a_shot"] < 0.5
    assert row["overlapping_pairs_within_shots"] == 71 and row["most_alike_across_a_cut"] is None
    assert 0.5 < row["least_alike_within_a_shot"] <= 1.0  # one face, frame after frame
    assert "| single_face.mp4 | 72 | none |" in capsys.readouterr().out


@pytest.mark.slow  # 49 s on an AVX2-only CPU: the default run stays under 10 minutes there
def test_nets_benchmark_measures_each_preset(tmp_path, capsys):
    import json

    from tools.bench import main

    out = tmp_path / "nets.json"
    assert main(["nets", "--models", "fever-student-vgg-s48", "--seconds", "0.2", "--json", str(out)]) == 0
    row = json.loads(out.read_text())[0]
    assert row["model"] == "fever-student-vgg-s48" and row["input"] == 48 and row["parameters_m"] == 1.27
    assert row["infer_crops_per_s"] > 0 and row["train_images_per_s"] > 0
    assert "| fever-student-vgg-s48 | 48 px | 1.27 M |" in capsys.readouterr().out


def test_memory_benchmark_scales_a_clip_and_reports_the_child_peak(tiny_model_dir, videos, tmp_path, capsys):
    import json

    from tools.bench import main

    out = tmp_path / "memory.json"
    args = ["memory", "--size", "320x180", "--frames", "6", "--model", str(tiny_model_dir), "--json", str(out)]
    assert main(args + ["--threads", "1"]) == 0
    r = json.loads(out.read_text())
    assert r["size"] == "320x180" and r["frames"] == 6 and r["source"] == "single_face.mp4"
    assert r["rows"] == 6  # one face per frame
    # a Python with torch and MTCNN: 850 MB here; not the pytest parent's gigabytes (see peak_memory)
    assert 100 < r["peak_mb"] < 1536 and r["under_target"] is True
    assert "| 320x180 from single_face.mp4 | 6 |" in capsys.readouterr().out


def test_a_child_reports_its_own_peak_not_its_big_parents(tmp_path):
    # ru_maxrss survives exec: a child of a 1 GB parent "peaked" at 1 GB. VmHWM does not.
    from tools.peak_memory import peak_rss_mb, run_module_measured

    ballast = bytearray(1024**3)
    ballast[::4096] = b"\x01" * len(ballast[::4096])  # touch every page: resident
    assert peak_rss_mb() > 1024
    data = tmp_path / "x.json"
    data.write_text('{"a": 1}')
    run, peak = run_module_measured("json.tool", [str(data)])
    assert run.returncode == 0 and '"a": 1' in run.stdout
    assert 1 < peak < 200  # a bare Python, not the parent's gigabyte
    run, peak = run_module_measured("no_such_module_here", [])
    assert run.returncode != 0 and "no_such_module_here" in run.stderr and 1 < peak < 200
    del ballast


def test_suite_rows_run_in_a_child_that_imports_this_package(tiny_model_dir, tmp_path):
    # The children once imported fever.bench_suite, gone since the tools moved: every row was an
    # error and the suite still exited 0.
    from tools.bench_suite import _child, failed_rows

    spec = {"data_root": str(tmp_path), "count": 8, "batch_size": 4, "repeats": 1}
    row = _child("crops_job", {**spec, "kind": "fever", "model": str(tiny_model_dir), "precision": "fp32"})
    assert row.get("crops_per_s", 0) > 0 and 50 < row["peak_mb"] < 2048, row
    broken = _child("no_such_job", spec)
    assert "ImportError" in broken["error"] and "no_such_job" in broken["error"]
    result = {"crops": {"a": row, "b": broken}, "videos": {"c": {"frames_per_s": 1.0}, "d": {"error": "x"}}}
    assert failed_rows(result) == ["b", "d"]


def test_suite_command_exits_1_and_names_the_rows_that_failed(monkeypatch, capsys):
    import tools.bench_suite as bench_suite
    from tools.bench import main

    row = {"crops_per_s": 100.0, "x_reference": 1.0, "peak_mb": 500.0}
    result = {
        "threads": 2,
        "crops": {"ok row": row, "onnx row": {"error": "ModuleNotFoundError: No module named 'x'"}},
        "videos": {
            "video row": {"error": "exit 1"},
            "one-pass row": {"frames_per_s": 80.0, "x_reference": 4.0, "x_mtcnn_every_frame": 4.5, "peak_mb": 600.0},
        },
        "matmul_peak_gflops": {"fp32": 100.0, "bf16": 200.0},
        "default_model_gflop_per_crop": 0.2,
        "default_model_achieved_gflops": {"fp32": 20.0, "bf16": 40.0},
        "fraction_of_peak": {"fp32": 0.2, "bf16": 0.2},
    }
    monkeypatch.setattr(bench_suite, "suite", lambda *a, **k: result)
    assert main(["suite"]) == 1
    captured = capsys.readouterr()
    assert "| onnx row | error: ModuleNotFoundError: No module named 'x' | | |" in captured.out
    assert "| one-pass row | 80.0 | 4.00 | 4.50 | 600 |" in captured.out  # the ratio to MTCNN in the same run
    assert "fever-bench suite: 2 rows failed: onnx row; video row" in captured.err


def test_suite_times_bf16_only_where_the_cpu_computes_it(monkeypatch, capsys):
    """Emulated bf16 is about 20x slower than fp32: on an AVX2-only CPU the suite times fp32 alone
    unless asked, says what it left out, and refuses a precision it does not know."""
    import fever.device
    import tools.bench_suite as bench_suite
    from fever.errors import UsageError
    from tools.bench import main

    monkeypatch.setattr(fever.device, "fast_bf16_cpu", lambda: False)
    assert bench_suite.suite_precisions() == ("fp32",)
    assert bench_suite.suite_precisions("fp32, bf16,fp32") == ("fp32", "bf16")
    monkeypatch.setattr(fever.device, "fast_bf16_cpu", lambda: True)
    assert bench_suite.suite_precisions() == ("fp32", "bf16")
    with pytest.raises(UsageError, match="--precisions 'fp16'.*fp32, bf16"):
        bench_suite.suite_precisions("fp16")

    asked = {}
    row = {"crops_per_s": 100.0, "x_reference": 1.0, "peak_mb": 500.0}
    result = {
        "threads": 2,
        "precisions": ["fp32"],
        "crops": {"m fp32": row},
        "videos": {},
        "matmul_peak_gflops": {"fp32": 100.0},
        "default_model_gflop_per_crop": 0.2,
        "default_model_achieved_gflops": {"fp32": 20.0},
        "fraction_of_peak": {"fp32": 0.2},
    }
    monkeypatch.setattr(bench_suite, "suite", lambda *a, **k: asked.update(k) or result)
    assert main(["suite", "--precisions", "fp32"]) == 0
    out = capsys.readouterr().out
    assert asked["precisions"] == ("fp32",)
    assert "matmul peak GFLOP/s: 100 fp32" in out
    assert "not timed: bf16 (this CPU has no AVX512-BF16/AMX" in out
    assert "achieved 20.0 GFLOP/s fp32 (20% of peak)" in out


def test_the_one_pass_detector_rows_time_real_frames(videos, tmp_path):
    """fever-bench suite's detector rows (issue 24): frames/s of network + decoding at a frame size,
    random weights or a saved detector folder, and a failed row is named."""
    from fever.onepass import OnePassConfig, OnePassNet
    from fever.onepass.detector import save_detector
    from tools.bench_suite import _child, detector_job, failed_rows

    spec = {"data_root": str(videos.parent), "size": [320, 180], "precision": "fp32", "frames": 4, "repeats": 1}
    row = detector_job({**spec, "detector": None})
    assert row["frames"] == 4 and row["frames_per_s"] > 0
    folder = save_detector(OnePassNet(OnePassConfig(widths=(8, 16, 24, 32), head_width=8)), tmp_path / "det")
    assert detector_job({**spec, "detector": str(folder)})["frames"] == 4
    broken = _child("detector_job", {**spec, "detector": str(tmp_path / "none")})
    assert "none: no such one-pass detector folder" in broken["error"]
    assert failed_rows({"crops": {}, "videos": {}, "detectors": {"x": broken}}) == ["x"]


def test_stability_measures_consecutive_frames_of_a_track(videos, model_with_probe):
    """fever-bench stability (issue 25): per video, the cosine of consecutive vectors of a track and
    the probe's label flips; a face filmed still keeps its vector."""
    from tools.bench_stability import VIDEOS, stability

    rows = stability(str(model_with_probe), videos.parent, max_frames=6)
    assert [r["video"] for r in rows] == list(VIDEOS)
    single = rows[0]
    assert single["pairs"] >= 4 and 0.9 < single["cosine_p10"] <= single["cosine_median"] <= 1.0 + 1e-6
    assert 0.0 <= single["label_flip_rate"] <= 1.0
