"""Training data from an image folder per class, a CSV of paths and labels, and unlabelled folders."""

import shutil

import numpy as np
import pytest

import fever
from distill.cli import main as distill_main
from distill.loaders import labelled_from_csv, labelled_from_folder, load_source, unlabelled_from_folder
from tests.helpers import SAMPLES

PRE = fever.models.get_config("fever-student-resnet18").preprocess


@pytest.fixture()
def class_folder(tmp_path):
    root = tmp_path / "data"
    for cls in ("happiness", "surprise", "neutral"):
        (root / cls).mkdir(parents=True)
        src = next(SAMPLES.glob(f"ferplus_{cls}_*.png"))
        shutil.copy(src, root / cls / src.name)
    shutil.copy(SAMPLES / "pexels_wolfganglanger_face.jpg", root / "neutral" / "photo.jpg")
    (root / "neutral" / "notes.txt").write_text("ignored")
    return root


def test_folder_per_class(class_folder):
    split = labelled_from_folder(class_folder, PRE)
    assert split.images.shape == (4, 48, 48) and split.images.dtype == np.uint8
    assert [n.split("/")[-2] for n in split.names] == ["happiness", "neutral", "neutral", "surprise"]
    assert split.majority.tolist() == [1, 0, 0, 2]  # FER+ order: neutral 0, happiness 1, surprise 2
    photo = split.images[[n.endswith("photo.jpg") for n in split.names].index(True)]
    assert photo.std() > 10  # a real detected face, not a blank crop


def test_csv_of_paths_and_labels(class_folder, tmp_path):
    csv_file = class_folder / "labels.csv"
    csv_file.write_text(
        "path,label\nhappiness/" + next((class_folder / "happiness").iterdir()).name + ",Happiness\n"
        "neutral/photo.jpg,neutral\nmissing.png,anger\n"
    )
    split = labelled_from_csv(csv_file, PRE)
    assert len(split.names) == 2 and split.majority.tolist() == [1, 0]  # the missing file is skipped with a warning
    assert load_source(f"csv:{csv_file}", "train", "unused", PRE).images.shape == (2, 48, 48)


def test_bad_labels_and_sources_are_clear(class_folder, tmp_path):
    (class_folder / "boredom").mkdir()
    shutil.copy(next(SAMPLES.glob("ferplus_anger_*.png")), class_folder / "boredom" / "x.png")
    with pytest.raises(ValueError, match=r"labels \['boredom'\] are not among the model's classes"):
        labelled_from_folder(class_folder, PRE)
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("file,emotion\na.png,happy\n")
    with pytest.raises(ValueError, match="needs columns 'path' and 'label'"):
        labelled_from_csv(bad_csv, PRE)
    with pytest.raises(ValueError, match="must be 'ferplus', 'folder:PATH' or 'csv:FILE'"):
        load_source("parquet:x", "train", ".", PRE)


def test_unlabelled_folder_to_npy(tmp_path):
    out = tmp_path / "faces.npy"
    assert distill_main(["prepare-unlabelled", "--folder", str(SAMPLES), "--out", str(out)]) == 0
    faces = np.load(out)
    # 5 FER crops + 1 face of the Pexels frame + the biggest face of the two-face frame
    assert faces.shape == (7, 64, 64) and faces.dtype == np.uint8
    assert np.array_equal(unlabelled_from_folder(SAMPLES, PRE, 64), faces)


def test_utkface_split_and_label_cleaning(datasets):
    from distill.utkface import load_utkface

    utk = load_utkface(datasets)
    assert len(utk.names) == 9780 - 106  # byte-identical duplicates kept once
    assert set(np.unique(utk.gender)) <= {-1, 0, 1} and set(np.unique(utk.race)) <= {-1, 0, 1, 2, 3, 4}
    assert {s: int((utk.split == s).sum()) for s in ("train", "valid", "test")} == {
        "train": 7687,
        "valid": 994,
        "test": 993,
    }
    assert np.array_equal(load_utkface(datasets).split, utk.split)  # the split is fixed


def test_one_grayscale_conversion_matches_pil_luma():
    """Training crops, unlabelled faces and extract() all use fever.preprocess.to_gray: PIL's "L"."""
    import torch
    from PIL import Image

    from distill.loaders import to_uint8_gray

    rgb = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    pil = np.asarray(Image.fromarray(rgb).convert("L"))
    ours = to_uint8_gray(torch.from_numpy(rgb).permute(2, 0, 1).float() / 255)
    assert ours.dtype == np.uint8 and np.abs(ours.astype(int) - pil).max() == 0
    # pure green is far brighter than pure blue in luma; a channel mean would make them equal
    g, b = torch.zeros(3, 1, 1), torch.zeros(3, 1, 1)
    g[1], b[2] = 1, 1
    assert to_uint8_gray(g)[0, 0] == 150 and to_uint8_gray(b)[0, 0] == 29


def test_unlabelled_video_faces_take_every_frame_or_a_rate(videos, tmp_path):
    """single_face.mp4 (72 frames, 3 s, one face): every frame gives a face each, 2 per second a few."""
    import os

    from distill.unlabelled import video_faces
    from fever.detect import FaceDetector
    from fever.models import get_config

    os.symlink(videos / "single_face.mp4", tmp_path / "single_face.mp4")
    pre = get_config("fever-student-vgg-s48").preprocess
    detector = FaceDetector(min_face_size=20, min_score=0.95)
    every = video_faces(tmp_path, detector, pre, None)
    some = video_faces(tmp_path, detector, pre, 2.0)
    assert 68 <= len(every) <= 72 and 4 <= len(some) <= 8
    assert every[0].shape == (pre.input_size, pre.input_size) and every[0].dtype == np.uint8
