"""fever-embed end to end: mixed folders, exit codes, metadata, kill -9 and --resume, shards."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import fever
from fever.cli.app import EXIT_ERROR as EXIT_FATAL
from fever.cli.app import EXIT_OK
from fever.cli.app import EXIT_PARTIAL as EXIT_SOME_FAILED
from fever.cli.embed import main
from fever.parquet import embeddings, read_metadata
from tests.helpers import ROOT, SAMPLES


@pytest.fixture()
def mixed_dir(tmp_path, videos):
    d = tmp_path / "inputs"
    (d / "sub").mkdir(parents=True)
    for p in SAMPLES.glob("ferplus_*.png"):
        shutil.copy(p, d / p.name)
    shutil.copy(SAMPLES / "hamilton_two_faces.jpg", d / "sub" / "two.jpg")
    shutil.copy(videos / "single_face.mp4", d / "clip.mp4")
    (d / "zero.jpg").write_bytes(b"")
    (d / "text.jpg").write_text("hello")
    (d / "README.txt").write_text("not an image")
    return d


def test_mixed_folder(mixed_dir, tmp_path, tiny_model_dir):
    out = tmp_path / "v.parquet"
    code = main(
        [
            str(mixed_dir),
            "--recursive",
            "--out",
            str(out),
            "--model",
            str(tiny_model_dir),
            "--every",
            "12",
            "--no-progress",
        ]
    )
    assert code == EXIT_SOME_FAILED
    table = pq.read_table(out)
    rows = table.to_pylist()
    by_name = {}
    for r in rows:
        by_name.setdefault(Path(r["path"]).name, []).append(r)
    assert len(by_name["two.jpg"]) == 2 and {r["face"] for r in by_name["two.jpg"]} == {0, 1}
    assert by_name["zero.jpg"][0]["status"] == "error" and "empty file (0 bytes)" in by_name["zero.jpg"][0]["error"]
    assert "not an image file" in by_name["text.jpg"][0]["error"]
    assert (
        by_name["README.txt"][0]["status"] == "skipped" and "not an image or video" in by_name["README.txt"][0]["error"]
    )
    clip = by_name["clip.mp4"]
    assert [r["frame"] for r in clip] == [0, 12, 24, 36, 48, 60] and {r["track"] for r in clip} == {0}
    assert all(r["embedding"] is None for r in rows if r["status"] != "ok")
    assert table.schema.field("embedding").type.list_size == 256
    vec = embeddings(table)
    ok = np.array([r["status"] == "ok" for r in rows])
    assert np.isfinite(vec[ok]).all() and np.isnan(vec[~ok]).all()
    meta = read_metadata(out)
    assert meta["fever.model"] == "tiny-test-student" and meta["fever.dim"] == "256"
    assert len(meta["fever.config_hash"]) == 16 and meta["fever.version"]
    assert not out.with_name(out.name + ".parts").exists()


def test_all_good_exits_zero_and_refuses_to_clobber(tmp_path, tiny_model_dir):
    out = tmp_path / "v.parquet"
    args = [str(SAMPLES), "--out", str(out), "--model", str(tiny_model_dir), "--no-progress"]
    assert main(args) == EXIT_OK
    assert pq.read_table(out).num_rows == 5 + 2 + 1 + 1  # 5 crops, 2 faces, 1 face, PROVENANCE.md skipped
    assert main(args) == EXIT_FATAL  # exists: needs --resume or --overwrite
    assert main(args + ["--overwrite"]) == EXIT_OK


def test_bad_model_is_fatal(tmp_path, capsys):
    assert (
        main([str(SAMPLES), "--out", str(tmp_path / "x.parquet"), "--model", str(tmp_path / "no-model")]) == EXIT_FATAL
    )
    err = capsys.readouterr().err
    assert "fever-embed: error:" in err and "no-model: no such model folder" in err
    assert not (tmp_path / "x.parquet").exists()


def _fer_folder(root: Path, datasets: Path, count: int) -> Path:
    folder = root / "fer"
    folder.mkdir()
    table = pq.read_table(datasets / "ferplus" / "test.parquet", columns=["name", "image"]).slice(0, count)
    for name, data in zip(table.column("name").to_pylist(), table.column("image").to_pylist()):
        (folder / name).write_bytes(data)
    return folder


def test_kill_and_resume_gives_each_input_once(tmp_path, tiny_model_dir, datasets):
    folder = _fer_folder(tmp_path, datasets, 400)
    out = tmp_path / "v.parquet"
    parts = tmp_path / "v.parquet.parts"
    cmd = [
        sys.executable,
        "-m",
        "fever.cli.embed",
        str(folder),
        "--out",
        str(out),
        "--model",
        str(tiny_model_dir),
        "--batch-size",
        "8",
        "--workers",
        "1",
        "--no-progress",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(parts.glob("part-*.parquet"))) < 3:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists()  # nothing half-written in place of the output
    written = sorted(parts.glob("part-*.parquet"))
    assert len(written) >= 3
    for part in written:  # every part that exists is complete
        assert pq.read_table(part).num_rows > 0
    assert subprocess.run(cmd, cwd=ROOT, capture_output=True).returncode == EXIT_FATAL  # must say --resume
    resumed = subprocess.run(cmd + ["--resume"], cwd=ROOT, capture_output=True, text=True)
    assert resumed.returncode == EXIT_OK, resumed.stderr
    assert "resuming" in resumed.stderr
    table = pq.read_table(out)
    paths = table.column("path").to_pylist()
    assert len(paths) == 400 and len(set(paths)) == 400
    # the same vectors as one uninterrupted run
    single = tmp_path / "single.parquet"
    assert main([str(folder), "--out", str(single), "--model", str(tiny_model_dir), "--no-progress"]) == EXIT_OK
    ref = pq.read_table(single)
    order = {p: i for i, p in enumerate(ref.column("path").to_pylist())}
    idx = [order[p] for p in paths]
    assert np.abs(embeddings(table) - embeddings(ref)[idx]).max() < 1e-5


def test_shards_union_equals_single_run(tmp_path, tiny_model_dir, datasets):
    folder = _fer_folder(tmp_path, datasets, 30)
    single = tmp_path / "all.parquet"
    assert main([str(folder), "--out", str(single), "--model", str(tiny_model_dir), "--no-progress"]) == EXIT_OK
    shard_paths = []
    for i in range(3):
        out = tmp_path / f"shard{i}.parquet"
        assert (
            main([str(folder), "--out", str(out), "--model", str(tiny_model_dir), "--shard", f"{i}/3", "--no-progress"])
            == EXIT_OK
        )
        shard_paths += pq.read_table(out).column("path").to_pylist()
    assert sorted(shard_paths) == sorted(pq.read_table(single).column("path").to_pylist())
    assert len(shard_paths) == 30 == len(set(shard_paths))
    assert (
        main([str(folder), "--out", str(tmp_path / "x.parquet"), "--shard", "3/3", "--model", str(tiny_model_dir)])
        == EXIT_FATAL
    )


def test_shard_numbering_is_explained(capsys):
    from fever.errors import UsageError
    from fever.inputs import InputFile, shard

    items = [InputFile(f"{k}.png", "image") for k in range(5)]
    assert [i.path for i in shard(items, "0/2")] == ["0.png", "2.png", "4.png"]
    assert [i.path for i in shard(items, "1/2")] == ["1.png", "3.png"]
    with pytest.raises(UsageError, match="shards are numbered from 0, so i must be 0 to 1 \\(0/2 ... 1/2\\)"):
        shard(items, "2/2")
    with pytest.raises(UsageError, match="must look like i/n"):
        shard(items, "second")


def test_a_file_name_that_is_not_utf8_does_not_stop_the_run(tmp_path, tiny_model_dir, fer_crops):
    """bad\\xff\\xfe.png: its bytes are kept as escapes in the path column; --resume knows it is done."""
    import os
    import shutil

    folder = tmp_path / "in"
    folder.mkdir()
    odd = os.fsdecode(b"bad\xff\xfe.png")
    shutil.copy(fer_crops[0], folder / odd)
    shutil.copy(fer_crops[1], folder / "plain.png")
    out = tmp_path / "v.parquet"
    args = [str(folder), "--out", str(out), "--model", str(tiny_model_dir), "--no-progress"]
    assert main(args) == EXIT_OK
    table = pq.read_table(out)
    assert sorted(Path(p).name for p in table.column("path").to_pylist()) == ["bad\\xff\\xfe.png", "plain.png"]
    assert table.column("status").to_pylist() == ["ok", "ok"]
    assert main(args + ["--resume"]) == EXIT_OK and pq.read_table(out).num_rows == 2  # nothing embedded twice


def _unfinished_run(out, tiny_model_dir, options):
    """An interrupted run: a parts folder with its manifest and one part, as a killed run leaves it."""
    import json as _json

    from fever.parquet import PartWriter

    cfg = fever.load(tiny_model_dir).config
    meta = {"fever.model": cfg.name, "fever.config_hash": cfg.config_hash(), "fever.options": _json.dumps(options)}
    writer = PartWriter(out, cfg.d_face, meta, resume=False, overwrite=False)
    writer.write(
        fever.Extractor(tiny_model_dir, device="cpu").extract([SAMPLES / "ferplus_anger_fer0032225.png"]).to_arrow()
    )
    return writer


def _options(**changes):
    """The run options fever-embed records, at its own defaults (read from its parser)."""
    import argparse

    from fever.cli.embed import RUN_OPTIONS, EmbedCommand

    parser = argparse.ArgumentParser()
    EmbedCommand().add_arguments(parser)
    args = parser.parse_args(["inputs", "--out", "out.parquet"])
    return {**{k: getattr(args, k) for k in RUN_OPTIONS}, **changes}


HOLD_LOCK = (
    "import sys, time; from pathlib import Path; from fever.locks import OutputLock; "
    "OutputLock(Path(sys.argv[1])).acquire(); print('held', flush=True); time.sleep(60)"
)


def test_a_second_run_on_an_output_in_use_is_refused(tmp_path, tiny_model_dir, capsys):
    """Issue 26.3: the lock is an flock taken before anything is looked at; its owner's death frees it."""
    out = tmp_path / "v.parquet"
    _unfinished_run(out, tiny_model_dir, _options()).close()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(out)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "held"
        for extra in ([], ["--resume"], ["--overwrite"]):
            assert main([str(SAMPLES), "--out", str(out), "--model", str(tiny_model_dir), "--no-progress", *extra]) == 1
            assert f"another fever-embed (pid {holder.pid}) is writing it" in capsys.readouterr().err
    finally:
        holder.kill()  # kill -9: no clean-up runs, the kernel drops the lock
        holder.wait()
    assert (tmp_path / "v.parquet.lock").exists()  # the dead owner's file stays, and blocks nobody
    assert main([str(SAMPLES), "--out", str(out), "--model", str(tiny_model_dir), "--no-progress", "--resume"]) == 0
    table = pq.read_table(out)
    keys = list(zip(table.column("path").to_pylist(), table.column("face").to_pylist()))
    assert len(keys) == len(set(keys)) == 9 and not (tmp_path / "v.parquet.parts").exists()  # 8 faces, 1 skipped
    assert not (tmp_path / "v.parquet.lock").exists()


def test_a_lock_file_naming_a_live_but_unrelated_pid_blocks_nothing(tmp_path, tiny_model_dir):
    """A pid reused by another program (here: this test's own parent) no longer locks an output forever."""
    out = tmp_path / "v.parquet"
    (tmp_path / "v.parquet.lock").write_text(f"{os.getppid()}\n")
    assert main([str(SAMPLES / "ferplus_anger_fer0032225.png"), "--out", str(out), "--model", str(tiny_model_dir)]) == 0
    assert pq.read_table(out).num_rows == 1


def test_two_writers_arriving_together_cannot_both_get_in(tmp_path):
    """The race of --shard 0/2 and 1/2 into one file: of writers that try at the same moment, one wins."""
    import threading

    from fever.errors import FeverError
    from fever.locks import OutputLock

    out = tmp_path / "v.parquet"
    for _ in range(20):
        start = threading.Barrier(4)
        won, refused = [], []

        def attempt():
            lock = OutputLock(out)
            start.wait()
            try:
                won.append(lock.acquire())
            except FeverError as exc:
                refused.append(str(exc))

        threads = [threading.Thread(target=attempt) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1 and len(refused) == 3
        assert all(
            "v.parquet: another fever-embed" in r and r.endswith("is writing it; wait for it to finish")
            for r in refused
        )
        won[0].release()


def test_resume_with_other_options_or_without_a_manifest_is_refused(tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "v.parquet"
    _unfinished_run(out, tiny_model_dir, _options()).close()
    base = [str(SAMPLES), "--out", str(out), "--model", str(tiny_model_dir), "--no-progress", "--resume"]
    assert main(base + ["--normalize", "--precision", "bf16"]) == 1
    err = capsys.readouterr().err
    assert "the run was started with other options (--normalize False -> True, --precision fp32 -> bf16)" in err
    (tmp_path / "v.parquet.parts" / "manifest.json").unlink()
    assert main(base) == 1
    assert "manifest.json: missing, so nothing says which model and options made the parts" in capsys.readouterr().err


def test_damaged_parts_are_set_aside_and_failed_inputs_retried(tmp_path, tiny_model_dir, fer_crops, caplog):
    import shutil

    folder = tmp_path / "in"
    folder.mkdir()
    for p in fer_crops[:3]:
        shutil.copy(p, folder / p.name)
    broken = folder / "later_fixed.png"
    broken.write_bytes(b"not a png")
    out = tmp_path / "v.parquet"
    args = [str(folder), "--out", str(out), "--model", str(tiny_model_dir), "--no-progress", "--batch-size", "1"]
    assert main(args) == EXIT_SOME_FAILED
    shutil.copy(fer_crops[3], broken)  # the user mends the file
    _unfinished_run(tmp_path / "w.parquet", tiny_model_dir, _options()).close()
    parts = tmp_path / "w.parquet.parts"
    (parts / "part-000007.parquet").write_bytes(b"")  # a truncated part
    shutil.copy(parts / "part-000001.parquet", parts / "part-000001 (copy).parquet")  # a stray copy
    w_args = [str(folder), "--out", str(tmp_path / "w.parquet"), "--model", str(tiny_model_dir), "--no-progress"]
    assert main(w_args + ["--resume"]) == EXIT_OK
    assert "part-000007.parquet: damaged part set aside" in caplog.text
    w = pq.read_table(tmp_path / "w.parquet")
    assert sorted(Path(p).name for p in w.column("path").to_pylist()) == sorted(
        [p.name for p in fer_crops[:3]] + ["later_fixed.png", "ferplus_anger_fer0032225.png"]
    )
    assert main(args + ["--resume"]) == EXIT_OK  # the failed input is tried again
    table = pq.read_table(out)
    rows = dict(zip((Path(p).name for p in table.column("path").to_pylist()), table.column("status").to_pylist()))
    assert rows["later_fixed.png"] == "ok" and len(rows) == table.num_rows == 4


def test_resume_knows_inputs_spelled_another_way(tmp_path, tiny_model_dir, monkeypatch):
    import shutil

    (tmp_path / "in").mkdir()
    for p in sorted(SAMPLES.glob("ferplus_*.png"))[:2]:
        shutil.copy(p, tmp_path / "in" / p.name)
    monkeypatch.chdir(tmp_path)
    assert main(["in", "--out", "v.parquet", "--model", str(tiny_model_dir), "--no-progress"]) == EXIT_OK
    again = [str(tmp_path / "in"), "--out", str(tmp_path / "v.parquet"), "--model", str(tiny_model_dir)]
    assert main(again + ["--no-progress", "--resume"]) == EXIT_OK
    assert pq.read_table(tmp_path / "v.parquet").num_rows == 2  # nothing embedded twice


def test_a_disk_too_full_to_merge_keeps_every_row_for_resume(tmp_path, tiny_model_dir, monkeypatch, capsys):
    """The merge copies the parts before removing them: without room for the copy the run says how
    much it needs, keeps its parts, and --resume merges them later without embedding anything again."""
    from collections import namedtuple

    import fever.parquet

    usage = namedtuple("usage", "total used free")
    real = shutil.disk_usage
    monkeypatch.setattr(fever.parquet.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 100, 100))
    out = tmp_path / "v.parquet"
    args = [str(SAMPLES), "--out", str(out), "--model", str(tiny_model_dir), "--no-progress"]
    assert main(args) == EXIT_FATAL
    err = capsys.readouterr().err
    assert "merging the parts needs about" in err and "MB free on its disk, 0.0 MB are" in err
    assert f"every finished row is kept in {out}.parts: make room and run again with --resume" in err
    parts = sorted((tmp_path / "v.parquet.parts").glob("part-*.parquet"))
    assert parts and not out.exists() and not (tmp_path / "v.parquet.tmp").exists()
    rows = sum(pq.read_table(p).num_rows for p in parts)
    monkeypatch.setattr(fever.parquet.shutil, "disk_usage", real)
    embedded = []
    monkeypatch.setattr(fever.Extractor, "embed_crops", lambda self, *a, **k: embedded.append(1))
    assert main(args + ["--resume"]) == EXIT_OK
    assert embedded == [] and pq.read_table(out).num_rows == rows > 0


def _run(out, tiny_model_dir, *extra, inputs=None):
    paths = [str(p) for p in (inputs or [SAMPLES / "ferplus_anger_fer0032225.png"])]
    return main([*paths, "--out", str(out), "--model", str(tiny_model_dir), "--no-progress", *extra])


def test_resume_and_overwrite_touch_only_files_fever_wrote(tmp_path, tiny_model_dir, capsys):
    """Issue 26.6: --resume onto a foreign parquet replaced it; --overwrite replaced an input photo,
    a FIFO or a device named as --out."""
    import pyarrow as pa

    foreign = tmp_path / "theirs.parquet"
    pq.write_table(pa.table({"x": [1, 2, 3]}), foreign)
    for option in ("--resume", "--overwrite"):
        assert _run(foreign, tiny_model_dir, option) == EXIT_FATAL
        assert (
            f"theirs.parquet: was not written by fever-embed (no fever metadata); {option}" in capsys.readouterr().err
        )
        assert pq.read_table(foreign).column("x").to_pylist() == [1, 2, 3]
    photo = tmp_path / "me.png"
    shutil.copy(SAMPLES / "ferplus_anger_fer0032225.png", photo)
    before = photo.read_bytes()
    assert _run(photo, tiny_model_dir, "--overwrite", inputs=[photo]) == EXIT_FATAL
    assert "me.png: cannot be read as a parquet file" in capsys.readouterr().err and photo.read_bytes() == before
    fifo = tmp_path / "pipe.parquet"
    os.mkfifo(fifo)
    assert _run(fifo, tiny_model_dir, "--overwrite") == EXIT_FATAL
    assert "pipe.parquet: is a FIFO, not a regular file" in capsys.readouterr().err
    assert _run(Path("/dev/null"), tiny_model_dir, "--overwrite") == EXIT_FATAL
    assert "/dev/null: is a character device, not a regular file" in capsys.readouterr().err
    ours = tmp_path / "ours.parquet"
    assert _run(ours, tiny_model_dir) == EXIT_OK and _run(ours, tiny_model_dir, "--overwrite") == EXIT_OK


def test_hand_damaged_run_files_give_a_message_not_a_traceback(tmp_path, tiny_model_dir, capsys, caplog):
    """Issue 26.14: each damaged file is named with what to do."""
    import json as _json

    import pyarrow as pa

    out = tmp_path / "v.parquet"
    manifest = tmp_path / "v.parquet.parts" / "manifest.json"
    _unfinished_run(out, tiny_model_dir, _options()).close()
    saved = manifest.read_text()
    for damage, message in (
        ("[]", "manifest.json: damaged (not an object of text settings"),
        ("{not json", "manifest.json: damaged (Expecting property name"),
        (_json.dumps({**_json.loads(saved), "fever.options": "{bad"}), "manifest.json: damaged fever.options"),
        (_json.dumps({**_json.loads(saved), "fever.options": "[1]"}), "damaged fever.options (not an object)"),
    ):
        manifest.write_text(damage)
        assert _run(out, tiny_model_dir, "--resume") == EXIT_FATAL
        err = capsys.readouterr().err
        assert message in err and "use --overwrite to start again" in err and "Traceback" not in err
    manifest.write_text(saved)
    # a part of another dimension: set aside, its input done again
    other = fever.extract([SAMPLES / "ferplus_anger_fer0032225.png"], tiny_model_dir).to_arrow()
    wide = pa.table({**{n: other.column(n) for n in other.column_names if n != "embedding"}})
    wide = wide.append_column("embedding", pa.array([[0.0] * 7], pa.list_(pa.float32(), 7)))
    pq.write_table(wide, tmp_path / "v.parquet.parts" / "part-000009.parquet")
    assert _run(out, tiny_model_dir, "--resume") == EXIT_OK
    assert "part-000009.parquet: damaged part set aside" in caplog.text
    assert "its vectors are fixed_size_list<element: float>[7], this run's are 256-d" in caplog.text
    assert pq.read_table(out).num_rows == 1 and np.isfinite(embeddings(pq.read_table(out))).all()
    # a corrupt OUT on --resume
    out.write_bytes(out.read_bytes()[:-40])
    assert _run(out, tiny_model_dir, "--resume") == EXIT_FATAL
    assert "v.parquet: cannot be read as a parquet file" in capsys.readouterr().err


def test_one_file_under_several_spellings_gets_one_set_of_rows(tmp_path, tiny_model_dir, caplog, monkeypatch):
    """Issue 26.4: a symlink, a relative and an absolute path gave 2 or 3 rows by batch size, and a
    non-UTF-8 name next to its escaped spelling shared one key."""
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SAMPLES / "ferplus_anger_fer0032225.png", d / "a.png")
    (d / "link.png").symlink_to(d / "a.png")
    shutil.copy(SAMPLES / "ferplus_happiness_fer0032227.png", os.fsencode(d) + b"/odd\xff.png")
    shutil.copy(SAMPLES / "ferplus_sadness_fer0032318.png", d / "odd\\xff.png")  # the escaped spelling, a real file
    monkeypatch.chdir(tmp_path)
    for batch in ("1", "64"):
        out = tmp_path / f"b{batch}.parquet"
        spellings = [str(d), "in/a.png", str(d / "a.png"), "./in/link.png"]
        assert main([*spellings, "--out", str(out), "--model", str(tiny_model_dir), "--batch-size", batch]) == EXIT_OK
        table = pq.read_table(out)
        assert table.num_rows == 3  # a.png once, and the two odd names as two files
        assert sorted(table.column("source_key").to_pylist()) == sorted(
            [os.fsencode(d / "a.png"), os.fsencode(d) + b"/odd\xff.png", os.fsencode(d / "odd\\xff.png")]
        )
        vectors = embeddings(table)
        assert not np.allclose(vectors[1], vectors[2])  # the two odd names are different faces
    assert "are the same file" in caplog.text and "embedded once" in caplog.text


def test_resume_notices_changed_and_deleted_inputs(tmp_path, tiny_model_dir, caplog):
    """Issue 26.5: an overwritten file kept its old vector, a deleted file its row, silently."""
    d = tmp_path / "in"
    d.mkdir()
    for name in ("anger_fer0032225", "happiness_fer0032227", "sadness_fer0032318"):
        shutil.copy(SAMPLES / f"ferplus_{name}.png", d / f"{name.split('_')[0]}.png")
    out = tmp_path / "v.parquet"
    args = [str(d), "--out", str(out), "--model", str(tiny_model_dir), "--no-progress"]
    assert main(args) == EXIT_OK
    first = pq.read_table(out)
    old = dict(zip(first.column("path").to_pylist(), embeddings(first)))
    shutil.copy(SAMPLES / "ferplus_surprise_fer0032287.png", d / "anger.png")  # overwritten in place
    (d / "sadness.png").unlink()
    assert main(args + ["--resume"]) == EXIT_OK
    table = pq.read_table(out)
    paths = table.column("path").to_pylist()
    assert sorted(Path(p).name for p in paths) == ["anger.png", "happiness.png"]
    new = dict(zip(paths, embeddings(table)))
    surprise = fever.extract([SAMPLES / "ferplus_surprise_fer0032287.png"], tiny_model_dir).vectors[0]
    np.testing.assert_allclose(new[str(d / "anger.png")], surprise, atol=1e-5)
    np.testing.assert_array_equal(new[str(d / "happiness.png")], old[str(d / "happiness.png")])
    assert "anger.png: changed since it was embedded" in caplog.text
    assert "sadness.png: no longer exists; its rows are dropped" in caplog.text


def test_a_folders_odd_entries_each_get_a_row_and_the_runs_own_files_none(tmp_path, tiny_model_dir):
    """Issue 26.7 and 26.11: --out inside a folder walked with --recursive embedded its own parts;
    a FIFO named .jpg got no row (or hung when named); a symlink loop stopped the run."""
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SAMPLES / "ferplus_anger_fer0032225.png", d / "a.png")
    os.mkfifo(d / "pipe.jpg")
    os.mkfifo(d / "pipe.mp4")
    os.mkfifo(d / "pipe.dat")
    (d / "loop1.jpg").symlink_to(d / "loop2.jpg")
    (d / "loop2.jpg").symlink_to(d / "loop1.jpg")
    out = d / "v.parquet"
    args = [str(d), "--recursive", "--out", str(out), "--model", str(tiny_model_dir), "--no-progress"]
    assert main(args) == EXIT_SOME_FAILED
    table = pq.read_table(out)
    rows = {
        Path(p).name: (s, e) for p, s, e in zip(*(table.column(c).to_pylist() for c in ("path", "status", "error")))
    }
    assert set(rows) == {"a.png", "pipe.jpg", "pipe.mp4", "pipe.dat", "loop1.jpg", "loop2.jpg"}
    assert rows["a.png"][0] == "ok"
    assert rows["pipe.jpg"] == ("error", f"{d / 'pipe.jpg'}: is a FIFO, not a regular file; only image files are read")
    assert rows["pipe.mp4"] == ("error", f"{d / 'pipe.mp4'}: is a FIFO, not a regular file; only video files are read")
    assert rows["pipe.dat"] == ("skipped", f"{d / 'pipe.dat'}: is a FIFO, not a regular file; skipped")
    assert rows["loop1.jpg"][0] == "error" and "Too many levels of symbolic links" in rows["loop1.jpg"][1]
    # the run's own output and parts are not inputs of the next run
    assert main(args + ["--overwrite"]) == EXIT_SOME_FAILED and pq.read_table(out).num_rows == 6
    # named directly, the FIFO and the loop are error rows too, and nothing hangs
    named = [str(d / "pipe.jpg"), str(d / "loop1.jpg"), str(d / "a.png")]
    assert main([*named, "--out", str(tmp_path / "n.parquet"), "--model", str(tiny_model_dir)]) == EXIT_SOME_FAILED
    assert pq.read_table(tmp_path / "n.parquet").column("status").to_pylist() == ["ok", "error", "error"]
