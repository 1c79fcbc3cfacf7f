"""Training of the one-pass face + expression detector (issue 24): composite scenes, pseudo-labels,
losses and the training loop; the network and its coding live in :mod:`fever.onepass`."""
