"""The explain plugin's torch half: everything that needs gradients (the ``[train]`` extra).

``gradients.py`` runs the classifier differentiably from its own ONNX files and computes
saliency, Grad-CAM and guided backpropagation; ``synthesis.py`` makes pictures for the network
(class models, feature inversion); ``adversarial.py`` perturbs pictures to change its mind.
The run-time half imports these modules only when a gradient method is asked for.
"""
