"""The probe experiments: synthetic videos that follow a known temporal rule."""

import numpy as np


def test_lagged_videos_follow_their_rule():
    from fever.models.config import EXPRESSION_CLASSES
    from tools.probe_experiments import CIRCUMPLEX, lagged_videos

    vectors = np.arange(40, dtype=np.float32)[:, None].repeat(3, 1)  # vector i encodes face i
    labels = np.arange(40) % 8
    xs, classes, vas = lagged_videos(vectors, labels, n_videos=3, length=30, lag=5, seed=0)
    for x, c, va in zip(xs, classes, vas):
        shown = labels[x[:, 0].astype(int)]  # the class of the face on screen
        assert np.array_equal(c[5:], shown[:-5])  # targets are 5 frames behind
        assert np.allclose(va, [CIRCUMPLEX[EXPRESSION_CLASSES[k]] for k in c])
