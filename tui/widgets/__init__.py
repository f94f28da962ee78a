"""Widgets shared by the screens: the key bar, the status bar, the top bar, the slot grids
(hand map, eyes), the quality meter and the resident card."""
