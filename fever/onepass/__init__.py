"""The one-pass face + expression detector (paper 004): one network finds every face of a frame,
its box, 5 landmarks, a face score and 8 expression logits."""

from .coding import FaceTarget, OnePassFace, decode, encode
from .network import OnePassConfig, OnePassNet

__all__ = ["FaceTarget", "OnePassConfig", "OnePassFace", "OnePassNet", "decode", "encode"]
