"""fever-probe: fit and predict from the command line."""


def test_cli_fit_and_predict(tmp_path, tiny_model_dir, capsys):
    import pyarrow.parquet as pq

    from fever.cli.embed import main as embed_main
    from tests.helpers import SAMPLES
    from tools.probe_cli import main as probe_main

    vectors = tmp_path / "v.parquet"
    assert embed_main([str(SAMPLES), "--out", str(vectors), "--model", str(tiny_model_dir), "--no-progress"]) == 0
    labels = tmp_path / "labels.csv"
    rows = ["path,label"] + [f"{p},{p.name.split('_')[1]}" for p in sorted(SAMPLES.glob("ferplus_*.png"))]
    rows += [f"{SAMPLES / 'hamilton_two_faces.jpg'},neutral", f"{SAMPLES / 'pexels_wolfganglanger_face.jpg'},happiness"]
    labels.write_text("\n".join(rows) + "\n")
    assert (
        probe_main(
            ["fit", "logistic", str(vectors), "--labels", str(labels), "--out", str(tmp_path / "p"), "--param", "C=1.0"]
        )
        == 0
    )
    assert "fitted on 8 vectors" in capsys.readouterr().out
    assert probe_main(["predict", str(tmp_path / "p"), str(vectors), "--out", str(tmp_path / "pred.parquet")]) == 0
    pred = pq.read_table(tmp_path / "pred.parquet")
    assert pred.num_rows == 8 and "prob_happiness" in pred.column_names and "prediction" in pred.column_names
    short = tmp_path / "short.csv"
    short.write_text("\n".join(rows[:3]) + "\n")
    assert probe_main(["fit", "logistic", str(vectors), "--labels", str(short), "--out", str(tmp_path / "q")]) == 1
    assert "6 of 8 vectors have no label" in capsys.readouterr().err
    fit_short = ["fit", "logistic", str(vectors), "--labels", str(short), "--out", str(tmp_path / "q")]
    assert probe_main(fit_short + ["--skip-unlabelled"]) == 0
    printed = capsys.readouterr()
    assert "6 of 8 vectors have no label: left out" in printed.err and "fitted on 2 vectors" in printed.out
    empty = tmp_path / "none.csv"
    empty.write_text("path,label\nnot-there.png,happiness\n")
    fit_none = [
        "fit",
        "logistic",
        str(vectors),
        "--labels",
        str(empty),
        "--out",
        str(tmp_path / "r"),
        "--skip-unlabelled",
    ]
    assert probe_main(fit_none) == 1
    assert f"none of the 8 vectors has a label in {empty}" in capsys.readouterr().err
