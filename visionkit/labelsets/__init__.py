"""The common label sets visionkit ships, one class name per line in class-index order.

``voc.txt``: Pascal VOC's 20 classes after ``background`` (index 0), as segmentation models
trained on VOC number them; ``coco.txt``: COCO's 80 object categories in the contiguous order
detectors trained on COCO predict them (COCO's category names); ``imagenet.txt``: the 1000
ImageNet-1k classes, the first name of each synset, written by ``make_imagenet.py``. Read them
by name through :func:`visionkit.labels.load_labels` (``--labels coco``).
"""
