"""fever-bench: speed and bf16 faithfulness figures (measured by the command, never asserted as times)."""


def test_bench_reports_speed_and_bf16_faithfulness(tiny_model_dir):
    from tools.bench import bench_crops

    r = bench_crops(str(tiny_model_dir), batch_size=16, repeats=1, data_root=None, threads=None)
    assert r["model"] == "tiny-test-student" and r["crops"] == 512
    assert set(r["precisions"]) == {"fp32", "bf16"} and all(
        v["crops_per_s_median"] > 0 for v in r["precisions"].values()
    )
    assert 0.9 < r["bf16_vs_fp32_cosine"]["min"] <= r["bf16_vs_fp32_cosine"]["mean"] <= 1.0 + 1e-6
