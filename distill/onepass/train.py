"""Training the one-pass detector: composite scenes and pseudo-labelled real frames, resumable.

Every batch is a pure function of (seed, step): which scenes, which faces, where and how they are
pasted, which real frames and how they are jittered. The model, optimiser and step are one
safetensors checkpoint (:mod:`distill.checkpoint`), so a killed run resumes exactly with the same
command, as the embedder runs do.
"""

from __future__ import annotations

import io
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from fever.device import fast_bf16_cpu
from fever.onepass import FaceTarget, OnePassConfig, OnePassNet, encode
from fever.onepass.detector import prepare, save_detector
from fever.onepass.network import OUTPUT_STRIDE

from ..checkpoint import load_checkpoint, save_checkpoint, truncate_logs
from ..settings import settings
from ..video_augment import VideoDegradation, video_degrade
from .loss import onepass_loss
from .scenes import compose_scene, fer_face


@dataclass
class DetectorTrainConfig:
    """Settings of a detector run (a JSON file); ``reasons`` says why each has its value."""

    out: str = "runs/onepass"
    data_root: str = "../shared/datasets"
    labels: str = ""  # parquet of pseudo-labelled real pictures (distill.onepass.labels); "" = composites only
    seed: int = 0
    steps: int = 20_000
    batch: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 500
    scene_size: tuple[int, int] = (360, 640)  # height, width
    faces_per_scene: tuple[int, int] = (1, 4)
    face_sizes: tuple[float, float] = (20.0, 200.0)
    real_fraction: float = 0.5  # share of each batch from the pseudo-labelled pictures
    widths: tuple[int, int, int, int] = (24, 48, 96, 160)
    head_width: int = 32
    expression_width: int = 0  # > 0: the expression logits' own branch (fever.onepass.network)
    depths: tuple[int, int, int] = (2, 2, 2)  # separable blocks at strides 8, 16, 32
    input_scale: float = 0.5
    init_from: str = ""  # a detector folder whose tensors of the same name and shape start this run
    class_balance: float = 0.0  # composites draw a FER+ face of majority class c with weight freq(c) ** -this
    real_scale: tuple[float, float] = (0.7, 1.0)  # a real picture's size, as a fraction of the largest that fits
    # (above 1: zoomed in, a random window of it fills the scene)
    real_flip: float = 0.0  # probability that a real picture is mirrored (landmarks swapped left for right)
    real_video_share: float = 0.0  # > 0: this share of real pictures are video frames, the rest photos
    scene_video: dict = field(default_factory=dict)  # distill.video_augment settings for whole scenes
    threads: int = 2
    bf16: bool = True  # autocast where the CPU computes bf16 (AVX512-BF16/AMX), else fp32
    checkpoint_minutes: float = 5.0
    max_minutes: float = 0.0
    max_steps: int = 0
    reasons: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_file(cls, path: str | Path) -> "DetectorTrainConfig":
        cfg = cls(**settings(cls, json.loads(Path(path).read_text()), "detector training"))
        cfg.degradation()  # refuses unknown settings now, not at the first step
        return cfg

    def degradation(self) -> VideoDegradation:
        """What video does to a frame, applied to every scene at the network's input size."""
        return VideoDegradation.from_dict(self.scene_video, "scene_video")

    def network(self) -> OnePassConfig:
        return OnePassConfig(
            widths=self.widths,
            head_width=self.head_width,
            expression_width=self.expression_width,
            depths=self.depths,
            input_scale=self.input_scale,
        )


def _backgrounds(data_root: Path, size: tuple[int, int]) -> list[np.ndarray]:
    """Face-free pictures: every 5th frame of no_face.mp4, resized to the scene size."""
    from fever.io.video import iter_video_frames

    h, w = size
    frames = [f.array for f in iter_video_frames(data_root / "videos" / "no_face.mp4", every=5)]
    return [np.asarray(Image.fromarray(f).resize((w, h), Image.BILINEAR)) for f in frames]


def face_weights(votes: np.ndarray, balance: float) -> np.ndarray:
    """Sampling probabilities of FER+ faces for composites: uniform over faces with votes at
    ``balance`` 0; a face of majority class c weighs ``freq(c) ** -balance`` otherwise (0.5 lifts
    contempt, 0.6% of FER+ train, to about 3% of the pasted faces), so that the rare classes the
    mAP averages over equally are seen often enough to learn."""
    counts = votes[:, :8].sum(1)
    majority = votes[:, :8].argmax(1)
    freq = np.bincount(majority[counts > 0], minlength=8) / max(1, int((counts > 0).sum()))
    weights = np.where(counts > 0, np.power(np.maximum(freq[majority], 1e-12), -balance), 0.0)
    return weights / weights.sum()


# MTCNN's landmark order: left eye, right eye, nose, left mouth corner, right mouth corner
MIRRORED_LANDMARKS = [1, 0, 2, 4, 3]


def mirror(picture: np.ndarray, boxes: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, ...]:
    """A picture mirrored left to right with its (n, 4) boxes and (n, 5, 2) landmarks: x becomes
    width - x, and the left eye (of the picture) is the mirrored picture's right eye."""
    width = picture.shape[1]
    boxes = np.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], axis=1)
    landmarks = landmarks[:, MIRRORED_LANDMARKS].copy()
    landmarks[..., 0] = width - landmarks[..., 0]
    return np.ascontiguousarray(picture[:, ::-1]), boxes, landmarks


# a face cut by the scene's edge stays a target while this share of its box is inside
MIN_VISIBLE = 0.6


def _area(boxes: np.ndarray) -> np.ndarray:
    return np.maximum(0, boxes[:, 2] - boxes[:, 0]) * np.maximum(0, boxes[:, 3] - boxes[:, 1])


def place(
    picture: np.ndarray,
    boxes: np.ndarray,
    landmarks: np.ndarray,
    canvas: np.ndarray,
    scale: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """A picture resized by ``scale`` at a random place on ``canvas`` (modified): inside it when it
    fits, else a random window of it fills the canvas (zoomed in, so faces come larger and cut by
    the frame's edge, as in close-up video). Boxes are clipped to the canvas, as both detectors clip
    theirs; a face with less than :data:`MIN_VISIBLE` of its box inside is dropped.

    Returns:
        The canvas, the kept faces' boxes (n, 4) and landmarks (n, 5, 2), and their indices.
    """
    h, w = canvas.shape[:2]
    size = (max(1, int(picture.shape[1] * scale)), max(1, int(picture.shape[0] * scale)))
    small = np.asarray(Image.fromarray(picture).resize(size, Image.BILINEAR))
    x0 = int(rng.integers(0, w - size[0] + 1)) if size[0] <= w else -int(rng.integers(0, size[0] - w + 1))
    y0 = int(rng.integers(0, h - size[1] + 1)) if size[1] <= h else -int(rng.integers(0, size[1] - h + 1))
    cx, cy = max(0, -x0), max(0, -y0)  # the window of the resized picture that lands on the canvas
    cw, ch = min(size[0] - cx, w - max(0, x0)), min(size[1] - cy, h - max(0, y0))
    canvas[max(0, y0) : max(0, y0) + ch, max(0, x0) : max(0, x0) + cw] = small[cy : cy + ch, cx : cx + cw]
    shift = np.array([x0, y0], np.float32)
    full = boxes * scale + np.tile(shift, 2)
    clipped = np.clip(full, 0, [w, h, w, h]).astype(np.float32)
    kept = [int(i) for i in np.flatnonzero(_area(clipped) >= MIN_VISIBLE * np.maximum(_area(full), 1e-6))]
    return canvas, clipped[kept], (landmarks * scale + shift)[kept], kept


def start_from(net: OnePassNet, folder: str | Path) -> list[str]:
    """Copy a trained detector's tensors into ``net`` where name and shape match, so a run can give
    a trained trunk a new branch, or new deeper stages, which start random; returns the names not
    taken from the folder.

    Raises:
        ValueError: when the folder's stem and stride-8 stage (the first two widths, the first depth)
            are not ``net``'s: then hardly anything would carry over.
    """
    from fever.onepass.detector import load_detector

    trained = load_detector(folder).net
    mine, theirs = net.config, trained.config
    if (mine.widths[:2], mine.depths[0]) != (theirs.widths[:2], theirs.depths[0]):
        raise ValueError(
            f"{folder}: its stem and stride-8 stage (widths {list(theirs.widths[:2])}, depth {theirs.depths[0]}) "
            f"are not this network's (widths {list(mine.widths[:2])}, depth {mine.depths[0]})"
        )
    own = net.state_dict()
    taken = {k: v.to(own[k].dtype) for k, v in trained.state_dict().items() if k in own and own[k].shape == v.shape}
    net.load_state_dict({**own, **taken})
    return sorted(set(own) - set(taken))


class DetectorTrainer:
    """One detector run: data, network, optimiser, checkpoints, a log line per 50 steps."""

    def __init__(self, cfg: DetectorTrainConfig) -> None:
        from ..ferplus import load_split

        self.cfg = cfg
        torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self.out = Path(cfg.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.net = OnePassNet(cfg.network()).to(memory_format=torch.channels_last)
        self.bf16 = cfg.bf16 and fast_bf16_cpu()
        self.optimizer = torch.optim.AdamW(self.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        root = Path(cfg.data_root)
        self.fer = load_split(root / "ferplus", "train")
        self.face_weights = face_weights(self.fer.votes, cfg.class_balance) if cfg.class_balance else None
        self.backgrounds = _backgrounds(root, cfg.scene_size)
        self.real = None
        if cfg.labels and cfg.real_fraction > 0:
            from .labels import read_labels

            self.real = read_labels(cfg.labels).to_pylist()
            is_video = np.array(["#" in row["source"] for row in self.real])
            self.real_pools = [np.flatnonzero(is_video), np.flatnonzero(~is_video)]
        self.scene_degradation = cfg.degradation()
        self.ckpt = self.out / "checkpoint.safetensors"
        self.step = 0
        self.elapsed_s = 0.0  # training time of earlier sessions, so that the log's clock runs on
        self.session_started = time.time()
        if self.ckpt.exists():
            progress = load_checkpoint(self.ckpt, self.net, self.optimizer)
            self.step = progress["step"]
            kept = truncate_logs(self.out, ("steps.csv",), self.step).get("steps.csv", [])
            self.elapsed_s = float(progress.get("elapsed_s", kept[-1]["elapsed_s"] if kept else 0.0))
        elif cfg.init_from:
            start_from(self.net, cfg.init_from)
        (self.out / "train_config.json").write_text(json.dumps(asdict(self.cfg), indent=2) + "\n")

    def lr_at(self, step: int) -> float:
        cfg = self.cfg
        if step < cfg.warmup_steps:
            return cfg.lr * (step + 1) / cfg.warmup_steps
        t = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
        return cfg.lr * (1 + math.cos(math.pi * min(t, 1.0))) / 2

    def _composite(self, rng: np.random.Generator) -> tuple[np.ndarray, list[FaceTarget]]:
        background = self.backgrounds[int(rng.integers(len(self.backgrounds)))]
        if rng.random() < 0.5:
            background = background[:, ::-1]
        n = int(rng.integers(self.cfg.faces_per_scene[0], self.cfg.faces_per_scene[1] + 1))
        if self.cfg.class_balance:
            picks = rng.choice(len(self.fer.images), n, p=self.face_weights)
        else:  # the first detector's draw, kept so that its config still makes the same batches
            picks = rng.integers(0, len(self.fer.images), n)
        faces = [fer_face(self.fer.images[i], self.fer.votes[i]) for i in picks]
        return compose_scene(np.ascontiguousarray(background), faces, rng, self.cfg.face_sizes)

    def _real_row(self, rng: np.random.Generator) -> dict:
        """A pseudo-labelled picture: uniform over all of them, or a video frame with probability
        ``real_video_share`` (the shared videos give far fewer pictures than UTKFace)."""
        if self.cfg.real_video_share > 0 and all(len(pool) for pool in self.real_pools):
            pool = self.real_pools[0] if rng.random() < self.cfg.real_video_share else self.real_pools[1]
            return self.real[int(pool[rng.integers(len(pool))])]
        return self.real[int(rng.integers(len(self.real)))]

    def _real(self, rng: np.random.Generator) -> tuple[np.ndarray, list[FaceTarget]]:
        row = self._real_row(rng)
        picture = np.asarray(Image.open(io.BytesIO(row["image"])).convert("RGB"))
        boxes = np.asarray(row["boxes"], np.float32).reshape(-1, 4)
        landmarks = np.asarray(row["landmarks"], np.float32).reshape(-1, 5, 2)
        if self.cfg.real_flip > 0 and rng.random() < self.cfg.real_flip:
            picture, boxes, landmarks = mirror(picture, boxes, landmarks)
        h, w = self.cfg.scene_size
        scale = min(w / picture.shape[1], h / picture.shape[0]) * rng.uniform(*self.cfg.real_scale)
        canvas = self.backgrounds[int(rng.integers(len(self.backgrounds)))].copy()
        canvas, boxes, landmarks, kept = place(picture, boxes, landmarks, canvas, scale, rng)
        probabilities = [row["probabilities"][i] for i in kept]
        faces = [FaceTarget(b, lm, np.asarray(p, np.float32)) for b, lm, p in zip(boxes, landmarks, probabilities)]
        return canvas, faces

    def batch(self, step: int) -> tuple[torch.Tensor, list]:
        rng = np.random.default_rng([self.cfg.seed, step])
        scenes = [
            self._real(rng) if self.real and rng.random() < self.cfg.real_fraction else self._composite(rng)
            for _ in range(self.cfg.batch)
        ]
        x = prepare([s for s, _ in scenes], self.net.config)
        x = video_degrade(x, rng, self.scene_degradation)  # draws nothing when turned off
        grid = (x.shape[-2] // OUTPUT_STRIDE, x.shape[-1] // OUTPUT_STRIDE)
        scale = self.net.config.input_scale
        targets = []
        for _, faces in scenes:
            scaled = [
                FaceTarget(f.box * scale, None if f.landmarks is None else f.landmarks * scale, f.expression)
                for f in faces
            ]
            targets.append(encode(scaled, grid, OUTPUT_STRIDE))
        return x, targets

    def elapsed(self) -> float:
        """Seconds of training so far, earlier sessions' and this one's."""
        return self.elapsed_s + time.time() - self.session_started

    def run(self) -> Path:
        cfg = self.cfg
        last_ckpt = self.session_started = time.time()
        log = (self.out / "steps.csv").open("a")
        if log.tell() == 0:
            log.write("step,loss,heatmap,offset,size,landmarks,expression,lr,elapsed_s\n")
        self.net.train()
        while self.step < cfg.steps:
            lr = self.lr_at(self.step)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            x, targets = self.batch(self.step)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
                outputs = self.net(x.contiguous(memory_format=torch.channels_last))
            loss, parts = onepass_loss(outputs, targets)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            self.step += 1
            if self.step % 50 == 0:
                values = ",".join(f"{parts[k]:.5f}" for k in ("heatmap", "offset", "size", "landmarks", "expression"))
                log.write(f"{self.step},{float(loss.detach()):.5f},{values},{lr:.6f},{self.elapsed():.1f}\n")
                log.flush()
            done = self.step >= cfg.steps or (cfg.max_steps and self.step >= cfg.max_steps)
            out_of_time = cfg.max_minutes and time.time() - self.session_started > cfg.max_minutes * 60
            if done or out_of_time or time.time() - last_ckpt > cfg.checkpoint_minutes * 60:
                save_checkpoint(self.ckpt, self.net, self.optimizer, {"step": self.step, "elapsed_s": self.elapsed()})
                last_ckpt = time.time()
            if done or out_of_time:
                break
        log.close()
        save_detector(self.net.eval(), self.out / "last")
        return self.out / "last"
