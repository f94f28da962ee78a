"""Rekam's hardware abstraction layer. ``hal`` never imports the domain core.

How the parts fit:

* :mod:`hal.ports` — one abstract port per kind of device; the core depends only on these.
* :mod:`hal.types`, :mod:`hal.errors` — what devices hand back (a :class:`~hal.types.Capture`
  with its encoded image and :class:`~hal.types.Quality`) and the one exception tree.
* :mod:`hal.quality` — pure functions on numpy arrays: face, fingerprint, iris and signature
  quality (0-100 with reason codes) and the verification matcher; thresholds in
  :class:`~hal.quality.QualityThresholds`.
* :mod:`hal.imaging` — array helpers shared by the rest (8-bit gray, fast percentiles).
* :mod:`hal.encode` — JPEG (face), JPEG 2000 at 500 ppi (fingers, irises), 1-bit PNG
  (signature), and decoders for HQ and tests.
* :mod:`hal.backends` — the backends: ``sim`` (every device, simulated, shipped for demos and
  tests) and the real adapters, each importing its vendor library only inside itself.
* :mod:`hal.synth` — the synthetic faces, fingerprints, irises and signatures the simulated
  devices capture.
* :mod:`hal.registry` — picks a backend per device from a spec (``"sim"``, ``"auto"``,
  ``"camera=opencv,fingerprint=sbi"``, or ``REKAM_HAL``) and hands back
  :class:`~hal.registry.KitDevices`; it refuses simulated devices on a production kit.

Every real backend turns its device's image into the same :class:`~hal.types.Capture` the
simulated one produces, scored by the same measures, so the quality gate behaves alike.
"""
