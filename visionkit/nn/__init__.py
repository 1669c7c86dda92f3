"""The torch side of visionkit: backbones, heads, augmentation, training and ONNX export.

Imported only to train or export models (it needs the ``[train]`` extra); the predict path
never imports it.
"""
