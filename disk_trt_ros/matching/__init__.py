"""Matching the keypoints of two images.

Modules: ``contract`` (the matcher's tensors), ``mnn`` and ``mnn_torch`` (mutual nearest neighbours, numpy reference
and torch), ``backends`` and ``torch_backends`` (matchers with one interface). ``contract``, ``mnn`` and ``backends``
import without torch.
"""
