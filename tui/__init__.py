"""Rekam's operator UI (Textual), in Bahasa Indonesia and English.

``rekam tui`` runs :class:`tui.app.RekamApp` against the configured kit; see
:mod:`tui.app` for how the parts fit. ``tui`` imports the kit core (``edge``), hal's
types, ports and errors, and Textual; the core never imports ``tui``.
"""
