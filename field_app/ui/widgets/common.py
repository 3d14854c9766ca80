"""Small widgets shared by the screens (their look is in common.kv)."""
from __future__ import annotations

from kivy.properties import ListProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label

# One colour per record state, used by badges in the list and on the map.
STATE_COLORS = {
    "draft": (0.55, 0.55, 0.6, 1),
    "waiting": (0.95, 0.65, 0.1, 1),
    "uploaded": (0.2, 0.7, 0.35, 1),
    "returned": (0.9, 0.3, 0.2, 1),
    "conflict": (0.75, 0.35, 0.85, 1),
    "rejected": (0.85, 0.15, 0.2, 1),
    "receipt": (0.3, 0.5, 0.85, 1),
}


def state_color(state: str):
    return STATE_COLORS.get(state, (0.5, 0.5, 0.5, 1))


class WrapLabel(Label):
    """A label that wraps to its width and is as tall as its text."""


class Card(BoxLayout):
    """A vertical box with a lighter background."""

    background = ListProperty([0.16, 0.18, 0.22, 1])


class Badge(Label):
    """A coloured pill with a short word in it (a record's state)."""

    background = ListProperty([0.5, 0.5, 0.5, 1])


class TopBar(BoxLayout):
    title = StringProperty("")
    back_target = StringProperty("home")   # empty: no back button


class ClickableBox(ButtonBehavior, BoxLayout):
    background = ListProperty([0.16, 0.18, 0.22, 1])
