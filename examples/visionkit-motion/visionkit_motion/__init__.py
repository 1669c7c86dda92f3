"""visionkit-motion: two tasks that need no model.

* ``motion`` finds what moves in a video against a background it learns as it goes
  (:mod:`.motion`, result :class:`.results.Motion`, painter :mod:`.painter`, CSV writer
  :mod:`.writer`);
* ``cartoon`` redraws the picture with flat colours and inked edges (:mod:`.cartoon`).

:mod:`.plugin` registers them; it is what the ``visionkit.plugins`` entry point names.
"""

__version__ = "0.1.0"
