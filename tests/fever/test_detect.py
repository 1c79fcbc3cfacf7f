"""Which face an image is about: the biggest one."""

import numpy as np

from fever.detect import Detection, box_area, main_face


def test_main_face_is_the_biggest_not_the_most_confident():
    small_sure = Detection(np.array([0, 0, 10, 10], np.float32), 0.999, np.zeros((5, 2)))
    big_less_sure = Detection(np.array([20, 20, 80, 90], np.float32), 0.93, np.zeros((5, 2)))
    assert box_area(big_less_sure.box) == 60 * 70 and box_area([5, 5, 1, 1]) == 0
    assert main_face([small_sure, big_less_sure]) is big_less_sure
    assert main_face([]) is None
