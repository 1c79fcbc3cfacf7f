"""Every size limit of fever, in one place, so that no input or file can exhaust memory.

Change them here (``fever.limits.MAX_IMAGE_PIXELS = ...``); the readers look them up at use.
"""

from __future__ import annotations

# one decoded image: ~ 9000 x 9000; more is refused as a likely decompression bomb
MAX_IMAGE_PIXELS = 80_000_000
# a photo above this is decoded at 1/2, 1/4 or 1/8 of its size (JPEG draft mode): detection on a
# 79 MP photo took 4.6 GB at full size
DECODE_PIXELS = 20_000_000
# one video frame: 8K UHD (7680 x 4320 = 33.2 MP) fits; a larger stream is refused before decoding
MAX_FRAME_PIXELS = 36_000_000
# decoded frames in flight per detection batch: what 64 frames of 640 x 360 take. Batches of large
# frames are cut by pixels, not by count (a 4K frame is 8.3 MP: one frame per batch of 14.7 MP)
BATCH_PIXELS = 64 * 640 * 360
# sizes a model config may ask for: far above any real fever network, far below what exhausts memory
# (a config.json asking for d_face 200,000,000 would build a 409 GB network before the weights are read)
MAX_WIDTH = 8192  # d_face, similarity / distillation heads, bottleneck, growth rate
MAX_CLASSES = 1000
MAX_DENSE_LAYERS = 64
MIN_INPUT_SIZE, MAX_INPUT_SIZE = 16, 1024
# decoded images in flight per batch of fever.extract: 8 x BATCH_PIXELS (118 MP, about 350 MB of
# pixels): a folder of 80 MP photos is read a photo at a time instead of 16 at once (7.3 GB)
IMAGE_BATCH_PIXELS = 8 * BATCH_PIXELS
# a network a config may build (counted on the meta device before anything is allocated): the
# largest fever network (the paper's teacher, 12 M) x 25; ViT-H (632 M) and a 64 x 8192 dense block are over
MAX_PARAMETERS = 300_000_000
# values all layers of a network output for one image (the paper's teacher at 140 px: about 25 M)
MAX_ACTIVATIONS = 400_000_000
