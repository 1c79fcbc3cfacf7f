import pytest
import torch

import fever
from fever.models.backbones import FACENET_CUT, facenet_trunk
from fever.models.cbam import CBAM


def test_registry_lists_paper_and_compact_models():
    names = fever.list_models()
    for required in (
        "deepfever-teacher-256",
        "deepfever-teacher-128",
        "deepfever-student-densenet201",
        "fever-student-resnet18",
        "fever-student-mobilenetv3",
        "fever-student-resnet50",
        "fever-student-resnet101-cbam",
    ):
        assert required in names
    assert fever.list_models("deepfever-teacher-*") == ["deepfever-teacher-128", "deepfever-teacher-256"]


@pytest.mark.parametrize("name", fever.list_models())
def test_every_preset_gives_the_paper_heads(name):
    model = fever.create_model(name, input_size=64).eval()
    cfg = model.config
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert out.embedding.shape == (2, cfg.d_face)
    assert out.similarity.shape == (2, 32)
    assert out.logits.shape == (2, 8)
    if cfg.kind == "student":
        assert out.distill.shape == (2, 80)
        assert cfg.d_face == 256 and cfg.dropout == 0.2
    else:
        assert out.distill is None and cfg.dropout == 0.1
    assert (out.embedding >= 0).all()  # the vector comes after 1x1 conv + BN + ReLU and pooling


def test_teacher_follows_fig1_shapes():
    model = fever.create_model("deepfever-teacher-128").eval()
    assert model.config.preprocess.input_size == 140 and not model.config.preprocess.grayscale
    x = torch.randn(1, 3, 140, 140)
    with torch.no_grad():
        trunk = model.trunk(x)
        assert trunk.shape == (1, 896, 7, 7)  # FaceNet cut after repeat_2 ("Inception 4e")
        body = model.body(trunk)
        assert body.shape == (1, 512 + 5 * 64, 7, 7)  # 1x1 conv to 512, 5 dense layers of growth 64
        assert model.forward_features(x).shape == (1, 128, 7, 7)
    assert list(dict(model.trunk.named_children()))[-1] == FACENET_CUT


def test_facenet_trunk_stops_before_reduction_b():
    names = [n for n, _ in facenet_trunk().named_children()]
    assert names[-1] == "repeat_2" and "mixed_7a" not in names


def test_resnet101_cbam_has_one_cbam_per_residual_block():
    model = fever.create_model("fever-student-resnet101-cbam")
    assert sum(isinstance(m, CBAM) for m in model.modules()) == 3 + 4 + 23 + 3


def test_overrides_change_config_and_size():
    model = fever.create_model("deepfever-teacher-256", d_face=64, input_size=96, grayscale=True)
    assert model.config.d_face == 64
    assert model.config.preprocess.input_size == 96 and model.config.preprocess.grayscale
    assert model.heads.similarity.in_features == 64


def test_unknown_model_names_the_known_ones():
    with pytest.raises(KeyError, match="unknown model 'nope'.*deepfever-teacher-256"):
        fever.create_model("nope")


def test_vggface2_offline_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("FEVER_HOME", str(tmp_path / "fever-home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    with pytest.raises(fever.OfflineError, match="vggface2.*could not be downloaded.*copy it to"):
        fever.create_model("deepfever-teacher-256", backbone_weights="vggface2")


def test_vggface2_uses_a_converted_safetensors_copy(tmp_path, monkeypatch):
    """With the converted trunk in FEVER_HOME, no download and no unpickling happen."""
    from safetensors.torch import save_file

    monkeypatch.setenv("FEVER_HOME", str(tmp_path))
    torch.manual_seed(3)
    source = facenet_trunk()
    save_file(
        {k: v.contiguous() for k, v in source.state_dict().items()},
        str(tmp_path / "facenet-vggface2-trunk.safetensors"),
    )
    model = fever.create_model("deepfever-teacher-256", backbone_weights="vggface2")
    assert torch.equal(model.trunk.conv2d_1a.conv.weight, source.conv2d_1a.conv.weight)


@pytest.mark.parametrize("name", ["fever-teacher-resnet18-48", "fever-teacher-vgg13-48", "fever-student-vgg-s48"])
def test_every_convolution_of_a_fresh_48px_network_learns_from_the_first_step(name):
    """From random weights, a layer that gets no gradient cannot start learning: a zero-initialised
    BatchNorm at the end of each residual block kept ResNet-18 at the class prior for 3 epochs."""
    torch.manual_seed(0)
    model = fever.create_model(name)
    out = model(torch.randn(8, 3, 48, 48))
    torch.nn.functional.cross_entropy(out.logits, torch.arange(8)).backward()
    silent = [n for n, p in model.named_parameters() if p.ndim == 4 and p.grad.abs().max() == 0]
    assert silent == []
