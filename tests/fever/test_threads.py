"""One thread count for torch, BLAS and faiss (fever.threads), and --threads on the commands."""

import faiss
import pytest
import torch
from threadpoolctl import threadpool_info

from fever.errors import UsageError
from fever.threads import available_cores, set_num_threads


@pytest.fixture()
def restore_threads():
    before = torch.get_num_threads()
    yield
    set_num_threads(before)


def test_set_num_threads_reaches_every_pool(restore_threads):
    assert set_num_threads(1) == 1
    assert torch.get_num_threads() == 1 and faiss.omp_get_max_threads() == 1
    assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    assert 1 <= available_cores()
    with pytest.raises(UsageError, match="threads must be 1 or more, not 0"):
        set_num_threads(0)


def test_embed_applies_threads(restore_threads, tmp_path, tiny_model_dir, monkeypatch):
    from fever.cli.embed import main
    from tests.helpers import SAMPLES

    seen = []
    monkeypatch.setattr("fever.cli.embed.embed", lambda args: seen.append(torch.get_num_threads()) or 0)
    assert main([str(SAMPLES), "--out", str(tmp_path / "v.parquet"), "--threads", "1"]) == 0
    assert seen == [1]
    monkeypatch.setenv("FEVER_NUM_THREADS", "1")
    set_num_threads(2)
    assert main([str(SAMPLES), "--out", str(tmp_path / "w.parquet")]) == 0  # the environment's default
    assert seen == [1, 1]


def test_a_bad_fever_num_threads_is_a_message_and_never_stops_help(monkeypatch, capsys, tmp_path):
    """Issue 26.13: FEVER_NUM_THREADS=abc gave a traceback for every command, even --help."""
    from fever.cli.embed import main

    monkeypatch.setenv("FEVER_NUM_THREADS", "abc")
    with pytest.raises(SystemExit) as help_exit:
        main(["--help"])
    assert help_exit.value.code == 0 and "--threads THREADS" in capsys.readouterr().out
    with pytest.raises(SystemExit) as usage:
        main(["x.png", "--out", str(tmp_path / "o.parquet")])
    assert usage.value.code == 1  # a usage error: could not run
    err = capsys.readouterr().err
    assert "argument --threads: 'abc' is not a thread count" in err and "$FEVER_NUM_THREADS" in err
    assert "Traceback" not in err
    monkeypatch.setenv("FEVER_NUM_THREADS", "0")
    with pytest.raises(SystemExit):
        main(["x.png", "--out", str(tmp_path / "o.parquet")])
    assert "'0' is not a thread count" in capsys.readouterr().err
