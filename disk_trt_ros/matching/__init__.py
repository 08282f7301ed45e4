"""Matching the keypoints of two images: mutual nearest neighbours, and LightGlue for DISK as one static graph.

Modules: ``contract`` (the matcher's tensors and metadata), ``mnn`` and ``mnn_torch`` (mutual nearest neighbours,
numpy reference and torch), ``lightglue_graph`` (LightGlue as a static torch module), ``lightglue_weights``
(checkpoints), ``lightglue_export`` and ``export_cli`` (the ONNX export), ``backends`` and ``torch_backends``
(matchers with one interface). Everything that needs torch lives in the modules that say so in their name or
docstring; ``contract``, ``mnn`` and ``backends`` import without it.
"""
