"""The temporal and multi-task probes on data with known rules: a per-frame model cannot solve a
rule that looks back in time; the LSTM probes must."""

import numpy as np
import pytest

import probes
from probes.base import ProbeError
from probes.lstm_va import _shift
from probes.multitask import age_to_bin


def _lagged_sequences(n_seq=24, length=80, dim=8, lag=4, seed=0):
    """valence_t = tanh(2 * mean of feature 0 over the last `lag` frames); arousal the same of feature 1."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for _ in range(n_seq):
        x = rng.normal(size=(length, dim)).astype(np.float32)
        y = np.zeros((length, 2), np.float32)
        for t in range(length):
            window = x[max(0, t - lag) : t + 1, :2].mean(axis=0)
            y[t] = np.tanh(2 * window)
        xs.append(x)
        ys.append(y)
    return xs, ys


def test_lstm_va_learns_a_rule_over_past_frames():
    from sklearn.linear_model import Ridge

    from probes.metrics import ccc

    xs, ys = _lagged_sequences()
    probe = probes.create("lstm-va", hidden=32, window=40, max_epochs=40, patience=8, steps_per_epoch=10, fps=25)
    probe.fit(xs[:20], ys[:20])
    lstm = probe.score(xs[20:], ys[20:])
    frame = Ridge().fit(np.concatenate(xs[:20]), np.concatenate(ys[:20]))
    p, t = frame.predict(np.concatenate(xs[20:])), np.concatenate(ys[20:])
    per_frame = np.mean([ccc(t[:, j], p[:, j]) for j in range(2)])
    assert lstm > 0.8 and lstm > per_frame + 0.15
    assert set(probe.postprocessing_) <= {"median", "bias", "scale", "shift"}
    assert probe.val_ccc_postprocessed_ >= probe.val_ccc_ - 1e-9
    pred = probe.predict(xs[20:])
    assert [p.shape for p in pred] == [(80, 2)] * 4


def test_lstm_va_postprocessing_steps():
    p = np.arange(10, dtype=np.float32)[:, None].repeat(2, 1)
    assert _shift(p, 3)[:, 0].tolist() == [0, 0, 0, 0, 1, 2, 3, 4, 5, 6]
    probe = probes.create("lstm-va")
    out = probe._apply([p], {"bias": [1.0, -1.0], "scale": [2.0, 1.0]})[0]
    assert out[:, 0].tolist() == pytest.approx(((p[:, 0] + 1) - 5.5) * 2 + 5.5)
    assert out[:, 1].tolist() == pytest.approx(p[:, 1] - 1)
    spiky = np.zeros((9, 2), np.float32)
    spiky[4] = 10
    assert probe._apply([spiky], {"median": 3})[0].max() == 0


def test_lstm_va_save_load_and_errors(tmp_path):
    xs, ys = _lagged_sequences(n_seq=6, length=30)
    probe = probes.create("lstm-va", hidden=8, window=16, max_epochs=2, steps_per_epoch=2).fit(xs, ys)
    back = probes.load(probe.save(tmp_path / "va"))
    assert np.allclose(back.predict(xs[:2])[0], probe.predict(xs[:2])[0], atol=1e-6)
    with pytest.raises(ProbeError, match=r"targets\[0\] has shape \(30, 3\); expected \(30, 2\)"):
        probes.create("lstm-va").fit(xs, [np.zeros((30, 3))] * 6)
    with pytest.raises(ProbeError, match="dimension 4 but the probe was fitted on dimension 8"):
        probe.predict([np.zeros((10, 4), np.float32)])
    with pytest.raises(ProbeError, match=r"sequences\[0\] has 1 frames, shorter than the 2"):
        probes.create("lstm-va").fit([np.zeros((1, 8), np.float32)] * 3, [np.zeros((1, 2))] * 3)


def _clip_videos(n=30, length=48, dim=6, seed=1):
    """Frame label = which of features 0..2 was largest one frame *earlier*."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for _ in range(n):
        x = rng.normal(size=(length, dim)).astype(np.float32)
        y = np.concatenate([[-1], x[:-1, :3].argmax(1)]).astype(np.int64)  # first frame unlabelled
        xs.append(x)
        ys.append(y)
    return xs, ys


def test_blstm_clip_beats_a_per_frame_model():
    from sklearn.linear_model import LogisticRegression

    from probes.metrics import s_metric

    xs, ys = _clip_videos()
    probe = probes.create("blstm-clip", n_classes=3, hidden=32, max_epochs=40, patience=8, steps_per_epoch=15)
    probe.fit(xs[:24], ys[:24])
    s_lstm = probe.score(xs[24:], ys[24:])
    x_tr, y_tr = np.concatenate(xs[:24]), np.concatenate(ys[:24])
    keep = y_tr >= 0
    frame = LogisticRegression(max_iter=500).fit(x_tr[keep], y_tr[keep])
    x_te, y_te = np.concatenate(xs[24:]), np.concatenate(ys[24:])
    keep = y_te >= 0
    s_frame = s_metric(y_te[keep], frame.predict(x_te[keep]), 3)
    assert s_lstm > 0.7 and s_lstm > s_frame + 0.2
    pred = probe.predict([xs[0][:13]])  # 13 frames: one full clip and one padded
    assert pred[0].shape == (13,)


def test_blstm_clip_sigmoid_option_and_errors(tmp_path):
    xs, ys = _clip_videos(n=6, length=16)
    probe = probes.create("blstm-clip", n_classes=3, loss="sigmoid", max_epochs=2, steps_per_epoch=2).fit(xs, ys)
    proba = probe.predict_proba(xs[:1])[0]
    assert proba.shape == (16, 3) and ((proba >= 0) & (proba <= 1)).all()
    assert probe.class_weights_.shape == (3,) and probe.class_weights_.mean() == pytest.approx(1.0)
    back = probes.load(probe.save(tmp_path / "clip"))
    assert np.array_equal(back.predict(xs[:1])[0], probe.predict(xs[:1])[0])
    with pytest.raises(ProbeError, match=r"videos\[0\] has 5 frames, shorter than the 8"):
        probes.create("blstm-clip").fit([np.zeros((5, 4), np.float32)] * 2, [np.zeros(5)] * 2)
    with pytest.raises(ProbeError, match="classes outside 0..2"):
        probes.create("blstm-clip", n_classes=3).fit(xs, [np.full(16, 5)] * 6)


def test_multitask_masks_missing_labels_and_learns_each_head(tmp_path):
    rng = np.random.default_rng(0)
    n, dim, sizes = 900, 32, (7, 2, 5, 5)
    y = np.stack([rng.integers(0, k, n) for k in sizes], 1)
    # each head's class adds its own random direction: every head is learnable from the vector
    centres = [rng.normal(size=(k, dim)) * 1.5 for k in sizes]
    x = (sum(c[y[:, j]] for j, c in enumerate(centres)) + rng.normal(size=(n, dim)) * 0.3).astype(np.float32)
    masked = y.copy()
    masked[: n // 2, 1:] = -1  # half the rows: emotion only (like FER+ beside UTKFace)
    masked[n // 2 :, 0] = -1  # the other half: no emotion
    masked[-100:, 0] = y[-100:, 0]
    probe = probes.create("multitask", gender_classes=2, race_classes=5, hidden=64, max_epochs=60, patience=10)
    probe.fit(x[:800], masked[:800])
    acc = probe.head_accuracy(x[800:], y[800:])
    assert min(acc.values()) > 0.85, acc
    assert probe.predict(x[:3]).shape == (3, 4)
    back = probes.load(probe.save(tmp_path / "mt"))
    assert back.head_accuracy(x[800:], y[800:]) == acc and list(back.loss_weights) == [2.0, 0.1, 1.5, 4.0]
    with pytest.raises(ProbeError, match=r"gender labels must be in 0..1 or -1"):
        probes.create("multitask", gender_classes=2).fit(x, np.full((n, 4), 2))


def test_age_bins_follow_the_paper():
    assert age_to_bin([0, 3, 4, 19, 20, 39, 40, 69, 70, 101, np.nan]).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, -1]
