"""Transfer learning on the user's own pictures: one task's head on a frozen, exported backbone.

    visionkit train classify --data photos/          # photos/<class>/<picture>
    visionkit train detect|segment|pose --data coco/  # coco/annotations.json + its pictures

The backbone (by default the bundled ImageNet one, ``efficientnet_lite0_backbone.onnx``) never
changes, so its feature maps of each picture are computed once, by onnxruntime, and cached
on disk; only the small head trains, in seconds to minutes on two cores. A seeded share of the
pictures is held out: training stops when their loss stops falling (the best epoch's weights
are kept), and the exported head is then measured on them by its task's evaluator.

Augmentation with cached features: each picture is cached as it is and mirrored left-right
(boxes, label maps and joints mirrored too, left and right joints swapped by name), and every
epoch reads one of the two at random. Random crops, scales and colour changes would each need
features of their own: every further copy costs the disk and filling time of the whole set
again, so the cache keeps the one change that is true of almost any set (``copies=1`` turns
it off, for sets where left and right differ, such as text).

:mod:`.sets` reads and checks the sets, :mod:`.recipe` trains, exports and measures.
"""

from .recipe import DEFAULT_BACKBONE, HEADS, TransferRecipe, train, train_and_export
from .sets import TASKS, read_set

__all__ = ["DEFAULT_BACKBONE", "HEADS", "TASKS", "TransferRecipe", "read_set", "train", "train_and_export"]
