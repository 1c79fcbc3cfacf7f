"""Glue to other frameworks, each an optional extra (``pip install "fever[ray]"``)."""
