"""A radio button that shows its state in characters, ``(*)`` or ``( )``: Textual's draws
the same dot either way and tells them apart by colour alone, which a 16-colour console
(or a colour-blind operator) may not show."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import RadioButton


class Choice(RadioButton):
    @property
    def _button(self) -> Content:
        style = self.get_visual_style("toggle--button")
        return Content.assemble(("(", ""), ("*" if self.value else " ", style), (")", ""))
