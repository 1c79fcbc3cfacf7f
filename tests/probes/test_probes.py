"""Probes: the logistic probe, scikit-learn compatibility, persistence, plugins, CLI, bad input."""

import sys
import textwrap

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import probes
from probes.base import ProbeError
from probes.metrics import ccc, confusion_matrix, macro_f1, s_metric


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16)) * 4
    y = rng.integers(0, 3, 300)
    x = (centres[y] + rng.normal(size=(300, 16))).astype(np.float32)
    names = np.array(["anger", "happiness", "neutral"])
    return x, names[y]


def test_metrics_known_answers():
    t = np.array([1.0, 2.0, 3.0, 4.0])
    assert ccc(t, t) == pytest.approx(1.0) and ccc(t - 2.5, 2.5 - t) == pytest.approx(-1.0)
    assert ccc(t, -t) == pytest.approx(2 * -1.25 / (1.25 + 1.25 + 25))  # the means differ too
    assert ccc(t, t + 1) == pytest.approx(2 * 1.25 / (1.25 + 1.25 + 1))  # a shift costs concordance
    yt, yp = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])
    assert confusion_matrix(yt, yp, 2).tolist() == [[1, 1], [0, 2]]
    assert macro_f1(yt, yp) == pytest.approx((2 / 3 + 0.8) / 2)
    assert s_metric(yt, yp) == pytest.approx(0.33 * 0.75 + 0.67 * (2 / 3 + 0.8) / 2)


def test_logistic_fits_predicts_and_reports(blobs, tmp_path):
    x, y = blobs
    probe = probes.create("logistic").fit(x[:200], y[:200])
    assert probe.score(x[200:], y[200:]) > 0.95
    proba = probe.predict_proba(x[200:])
    assert proba.shape == (100, 3) and np.allclose(proba.sum(1), 1)
    assert list(probe.classes_) == ["anger", "happiness", "neutral"]
    rep = probe.report(x[200:], y[200:])
    assert np.asarray(rep["confusion_matrix"]).sum() == 100 and rep["macro_f1"] > 0.95
    png = probe.plot_confusion(x[200:], y[200:], tmp_path / "cm.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_binary_logistic_matches_sklearn(blobs):
    from sklearn.linear_model import LogisticRegression

    x, y = blobs
    keep = y != "neutral"
    probe = probes.create("logistic", balanced=False).fit(x[keep], y[keep])
    ref = LogisticRegression(C=10000, max_iter=3000).fit((x[keep] - probe.mean_) / probe.scale_, y[keep])
    assert np.allclose(
        probe.predict_proba(x[keep]), ref.predict_proba((x[keep] - probe.mean_) / probe.scale_), atol=1e-6
    )


def test_save_load_round_trip(blobs, tmp_path):
    x, y = blobs
    probe = probes.create("logistic", C=10.0).fit(x, y)
    folder = probe.save(tmp_path / "p")
    assert sorted(p.name for p in folder.iterdir()) == ["probe.json", "probe.safetensors"]
    back = probes.load(folder)
    assert back.C == 10.0 and np.array_equal(back.predict(x), probe.predict(x))
    assert np.allclose(back.predict_proba(x), probe.predict_proba(x))
    (folder / "probe.safetensors").write_bytes(b"junk")
    with pytest.raises(ProbeError, match="probe.safetensors: corrupt or truncated"):
        probes.load(folder)


def test_scikit_learn_compatible(blobs):
    x, y = blobs
    scores = cross_val_score(probes.create("logistic"), x, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.9
    search = GridSearchCV(probes.create("logistic"), {"C": [0.01, 100.0]}, cv=3).fit(x, y)
    assert search.best_params_["C"] in (0.01, 100.0)
    pipe = make_pipeline(FunctionTransformer(lambda v: v * 2), probes.create("logistic")).fit(x, y)
    assert pipe.score(x, y) > 0.9


def test_bad_input_messages(blobs):
    x, y = blobs
    probe = probes.create("logistic")
    with pytest.raises(ProbeError, match="not fitted yet"):
        probe.predict(x)
    probe.fit(x, y)
    bad = x.copy()
    bad[4, 0] = np.nan
    with pytest.raises(ProbeError, match=r"NaN or infinite values in 1 rows \(first: row 4\)"):
        probe.predict(bad)
    with pytest.raises(ProbeError, match="dimension 8 but the probe was fitted on dimension 16"):
        probe.predict(x[:, :8])
    with pytest.raises(ProbeError, match=r"labels \['sadness'\] never appeared in training"):
        probe.score(x[:2], ["anger", "sadness"])
    with pytest.raises(ProbeError, match="300 vectors but 299 labels"):
        probes.create("logistic").fit(x, y[:-1])
    with pytest.raises(ProbeError, match="unknown probe 'svm'; available: .*logistic"):
        probes.create("svm")


def test_third_party_plugin_is_found_through_entry_points(tmp_path, monkeypatch):
    """A real installed distribution (dist-info with entry_points.txt) on sys.path."""
    site = tmp_path / "site"
    (site / "fever_probe_demo").mkdir(parents=True)
    (site / "fever_probe_demo" / "__init__.py").write_text(
        textwrap.dedent('''
        import numpy as np
        from probes import Probe

        class MajorityProbe(Probe):
            """Predicts the most common training label."""
            def __init__(self, bias=0):
                self.bias = bias
            def fit(self, X, y):
                values, counts = np.unique(np.asarray(y), return_counts=True)
                self.label_ = values[counts.argmax()]
                return self
            def predict(self, X):
                return np.full(len(X), self.label_)
            def _get_state(self):
                return {"dummy": np.zeros(1)}, {"label": str(self.label_)}
            def _set_state(self, arrays, extra):
                self.label_ = extra["label"]
    ''')
    )
    dist = site / "fever_probe_demo-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fever-probe-demo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[fever.probes]\nmajority = fever_probe_demo:MajorityProbe\n")
    monkeypatch.syspath_prepend(str(site))
    assert "majority" in probes.available() and "logistic" in probes.available()
    probe = probes.create("majority", bias=1).fit(np.zeros((3, 2)), ["a", "b", "b"])
    assert list(probe.predict(np.zeros((2, 2)))) == ["b", "b"]
    back = probes.load(probe.save(tmp_path / "saved"))
    assert back.bias == 1 and list(back.predict(np.zeros((1, 2)))) == ["b"]
    sys.modules.pop("fever_probe_demo", None)


def test_temperature_scaling_makes_an_overconfident_probe_honest(tmp_path):
    """Overlapping classes fitted with a huge C give overconfident probabilities; calibrating on
    held-out data raises T, lowers the held-out log-loss and changes no prediction."""
    rng = np.random.default_rng(0)

    def draw(n):  # 3 informative dimensions and 27 of noise: a probe fitted on few faces overfits
        y = rng.integers(0, 3, n)
        return np.hstack([np.eye(3)[y] + rng.normal(0, 0.9, (n, 3)), rng.normal(size=(n, 27))]), y

    (xa, ya), (xv, yv), (xt, yt) = draw(60), draw(600), draw(600)
    probe = probes.create("logistic", C=1e6, balanced=False).fit(xa, ya)

    def log_loss(p, x, y):
        return float(-np.log(p.predict_proba(x)[np.arange(len(y)), y]).mean())

    before, pred = log_loss(probe, xt, yt), probe.predict(xt)
    temperature = probe.calibrate(xv, yv)
    assert temperature > 1.0 and log_loss(probe, xt, yt) < before
    assert (probe.predict(xt) == pred).all()
    again = probes.load(probe.save(tmp_path / "p"))
    assert again.temperature_ == pytest.approx(temperature)
    assert np.allclose(again.predict_proba(xt), probe.predict_proba(xt))


def test_saved_probes_that_ask_too_much_or_do_not_add_up_are_refused(blobs, tmp_path):
    import json

    x, y = blobs[0], blobs[1]
    folder = probes.create("logistic").fit(x, y).save(tmp_path / "p")
    meta = json.loads((folder / "probe.json").read_text())
    meta["state"]["classes"] = meta["state"]["classes"] + ["extra"]  # 4 names for 3 rows of coefficients
    (folder / "probe.json").write_text(json.dumps(meta))
    with pytest.raises(ProbeError, match=f"{folder}: the probe's arrays do not match its class list"):
        probes.load(folder)
    lstm = tmp_path / "lstm"
    lstm.mkdir()
    (lstm / "probe.json").write_text(json.dumps({"probe": "lstm-va", "params": {"hidden": 300000}, "state": {}}))
    (lstm / "probe.safetensors").write_bytes(b"")
    with pytest.raises(ProbeError, match="hidden must be a whole number from 1 to 4,096, not 300000"):
        probes.load(lstm)


def _saved_lstm(tmp_path, **params):
    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(30, 8)).astype(np.float32) for _ in range(4)]
    va = [np.tanh(s[:, :2]) for s in seqs]
    return (
        probes.create("lstm-va", hidden=8, layers=1, max_epochs=2, window=10, **params)
        .fit(seqs, va)
        .save(tmp_path / "lstm")
    )


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda m: m["params"].update(hidden=4096, layers=16),
            "the saved network does not match the probe's parameters",
        ),
        (lambda m: m["state"].update(dim="abc"), "state 'dim' must be a whole number from 1 to 65,536, not 'abc'"),
        (lambda m: m["state"].update(dim=10**9), "state 'dim' must be a whole number from 1 to 65,536, not 1000000000"),
        (lambda m: m["params"].update(colour="blue"), "the parameters do not fit probe 'lstm-va'"),
        (lambda m: m.pop("state"), "'state' must be an object, not None"),
        (lambda m: m["state"].pop("dim"), "state has no 'dim'"),
    ],
)
def test_hand_edited_probe_files_are_refused_before_building(tmp_path, edit, message):
    """Issue 26.16: each names probe.json or its field; hidden 4096 x 16 layers allocated 8.8 GB first."""
    import json
    import resource

    folder = _saved_lstm(tmp_path)
    meta = json.loads((folder / "probe.json").read_text())
    edit(meta)
    (folder / "probe.json").write_text(json.dumps(meta))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ProbeError, match=message):
        probes.load(folder)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB


def test_probes_with_nan_coefficients_are_refused(blobs, tmp_path):
    """Issue 26.8: a probe with NaN coefficients predicted "neutral" everywhere."""
    from safetensors.numpy import load_file, save_file

    folder = probes.create("logistic").fit(*blobs).save(tmp_path / "p")
    arrays = load_file(str(folder / "probe.safetensors"))
    arrays["coef"][1, 2] = np.nan
    save_file(arrays, str(folder / "probe.safetensors"))
    with pytest.raises(ProbeError, match=r"probe.safetensors: array 'coef' holds 1 NaN or infinite values of 48"):
        probes.load(folder)
