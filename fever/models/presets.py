"""The named presets: the paper's networks, the CPU-sized ones and the 48 px from-scratch ones."""

from __future__ import annotations

from ..preprocess import PreprocessConfig
from .config import ModelConfig
from .registry import register_model

# -- the paper's networks ---------------------------------------------------------------------------
_PAPER_PRE = PreprocessConfig(input_size=140, grayscale=False, margin=0.1)
# Models trained on FER+ crop detected faces the way FER2013 framed its faces: MTCNN's box on FER
# faces is 0.85 x 1.11 of the image (`fever-distill framing`), i.e. a margin of -0.05.
FER_MARGIN = -0.05
_FER_PRE = PreprocessConfig(input_size=64, grayscale=True, margin=FER_MARGIN)
# FER+ faces are 48x48: at 48 px the student sees them at their own resolution and runs fastest.
_FER48_PRE = PreprocessConfig(input_size=48, grayscale=True, margin=FER_MARGIN)


@register_model
def deepfever_teacher_256() -> ModelConfig:
    """DeepFEVER teacher 1 (Fig. 1): FaceNet to Inception 4e + dense block, D_face=256, 140 px RGB."""
    return ModelConfig(
        name="deepfever-teacher-256",
        kind="teacher",
        backbone="inception_resnet_v1",
        d_face=256,
        dropout=0.1,
        preprocess=_PAPER_PRE,
        description=deepfever_teacher_256.__doc__ or "",
    )


@register_model
def deepfever_teacher_128() -> ModelConfig:
    """DeepFEVER teacher 2: as teacher 1 with D_face=128 (and another seed)."""
    return ModelConfig(
        name="deepfever-teacher-128",
        kind="teacher",
        backbone="inception_resnet_v1",
        d_face=128,
        dropout=0.1,
        preprocess=_PAPER_PRE,
        description=deepfever_teacher_128.__doc__ or "",
    )


@register_model
def deepfever_student_densenet201() -> ModelConfig:
    """DeepFEVER student (II-B): DenseNet201, D_face=256, dropout 0.2, 80-d distillation head."""
    return ModelConfig(
        name="deepfever-student-densenet201",
        kind="student",
        backbone="densenet201",
        d_face=256,
        distill_dim=80,
        dropout=0.2,
        preprocess=_PAPER_PRE,
        description=deepfever_student_densenet201.__doc__ or "",
    )


# -- CPU-sized networks for 48x48 grayscale FER-style training --------------------------------------
@register_model
def fever_teacher_112() -> ModelConfig:
    """The paper teacher (D=256) at 112 px grayscale: the input that a CPU can train on FER+."""
    return ModelConfig(
        name="fever-teacher-112",
        kind="teacher",
        backbone="inception_resnet_v1",
        d_face=256,
        dropout=0.1,
        preprocess=PreprocessConfig(input_size=112, grayscale=True, margin=FER_MARGIN),
        description=fever_teacher_112.__doc__ or "",
    )


@register_model
def fever_student_resnet18() -> ModelConfig:
    """Compact student: ResNet-18 at 48 px grayscale, D_face=256 (fast on a laptop CPU)."""
    return ModelConfig(
        name="fever-student-resnet18",
        kind="student",
        backbone="resnet18",
        d_face=256,
        distill_dim=80,
        dropout=0.2,
        preprocess=_FER48_PRE,
        description=fever_student_resnet18.__doc__ or "",
    )


@register_model
def fever_student_mobilenetv3() -> ModelConfig:
    """Compact student: MobileNetV3-Large at 64 px grayscale, D_face=256 (fastest)."""
    return ModelConfig(
        name="fever-student-mobilenetv3",
        kind="student",
        backbone="mobilenet_v3_large",
        d_face=256,
        distill_dim=80,
        dropout=0.2,
        preprocess=_FER_PRE,
        description=fever_student_mobilenetv3.__doc__ or "",
    )


# -- trained from scratch on 48 px faces (issue 14): trunks that keep the resolution ------------------
@register_model
def fever_teacher_resnet18_48() -> ModelConfig:
    """Teacher for 48 px gray faces: ResNet-18 with a 3x3 stride-2 stem and no max-pool, D_face=256."""
    return ModelConfig(
        name="fever-teacher-resnet18-48",
        kind="teacher",
        backbone="resnet18_fer",
        d_face=256,
        dropout=0.1,
        preprocess=_FER48_PRE,
        description=fever_teacher_resnet18_48.__doc__ or "",
    )


@register_model
def fever_teacher_vgg13_48() -> ModelConfig:
    """Teacher for 48 px gray faces: the FER+ paper's VGG-13 (Barsoum et al. 2016), D_face=128."""
    return ModelConfig(
        name="fever-teacher-vgg13-48",
        kind="teacher",
        backbone="vgg13_fer",
        d_face=128,
        dropout=0.1,
        preprocess=_FER48_PRE,
        description=fever_teacher_vgg13_48.__doc__ or "",
    )


@register_model
def fever_student_vgg_s48() -> ModelConfig:
    """Fast student for 48 px gray faces: 8-layer VGG (32-256 channels, 1.2 M parameters), D_face=256."""
    return ModelConfig(
        name="fever-student-vgg-s48",
        kind="student",
        backbone="vgg_s",
        d_face=256,
        distill_dim=80,
        dropout=0.2,
        preprocess=_FER48_PRE,
        description=fever_student_vgg_s48.__doc__ or "",
    )


# -- the other papers' extractors as backbones -------------------------------------------------------
@register_model
def fever_student_resnet50() -> ModelConfig:
    """ResNet-50 extractor of paper 000 (deep residual networks in real-world environments)."""
    return ModelConfig(
        name="fever-student-resnet50",
        kind="student",
        backbone="resnet50",
        d_face=256,
        distill_dim=80,
        dropout=0.2,
        preprocess=PreprocessConfig(input_size=112, grayscale=True, margin=FER_MARGIN),
        description=fever_student_resnet50.__doc__ or "",
    )


@register_model
def fever_student_resnet101_cbam() -> ModelConfig:
    """ResNet-101 with CBAM after each residual block, the extractor of paper 002 (in-the-wild videos)."""
    return ModelConfig(
        name="fever-student-resnet101-cbam",
        kind="student",
        backbone="resnet101_cbam",
        d_face=256,
        distill_dim=80,
        dropout=0.2,
        preprocess=PreprocessConfig(input_size=112, grayscale=True, margin=FER_MARGIN),
        description=fever_student_resnet101_cbam.__doc__ or "",
    )
