"""Rekam's hardware abstraction layer: one port per kind of device (:mod:`hal.ports`),
typed captures (:mod:`hal.types`), one exception tree (:mod:`hal.errors`), image quality
measures (:mod:`hal.quality`), encoders (:mod:`hal.encode`) and backends under
:mod:`hal.backends`, chosen by :mod:`hal.registry`. ``hal`` never imports the domain core."""
