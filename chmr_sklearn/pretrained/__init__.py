"""The default CHMR encoder shipped with the package.

``default.pt`` (float16 weights: GIN, projectors, Tree-VQ; no decoders) is what
``CHMRTransformer()`` loads offline; ``default.json`` is its manifest (sha256, pretraining
settings, data files, epochs, per-component loss curve). Rebuild it with
``scripts/pretrain_default.py``.
"""
