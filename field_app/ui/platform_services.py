"""Camera and file picking: plyer's camera on Android, a file chooser popup on the desktop.

plyer's camera raises NotImplementedError off Android, so the desktop gets a FileChooser instead. The chosen file's
path goes to `callback(path)` on the main thread; the core copies it into the record (`FieldCore.attach_photo`).
"""
from __future__ import annotations

import os
import time

from kivy.clock import Clock
from kivy.utils import platform

IMAGE_FILTERS = ["*.jpg", "*.jpeg", "*.png", "*.JPG", "*.JPEG", "*.PNG", "*.webp"]


def pick_photo(callback, start_dir: str | None = None):
    if platform == "android":
        return take_android_photo(callback)
    return choose_file(callback, start_dir)


def take_android_photo(callback):
    from kivy.app import App
    from plyer import camera

    folder = os.path.join(App.get_running_app().user_data_dir, "camera")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"photo-{int(time.time() * 1000)}.jpg")

    def done(filename):
        # plyer calls back from the Android activity thread
        Clock.schedule_once(lambda dt: callback(filename if filename and os.path.exists(filename) else None), 0)
        return False

    camera.take_picture(filename=path, on_complete=done)


def choose_file(callback, start_dir: str | None = None):
    from kivy.metrics import dp
    from kivy.uix.boxlayout import BoxLayout
    from kivy.uix.button import Button
    from kivy.uix.filechooser import FileChooserListView
    from kivy.uix.popup import Popup

    from .i18n import tr

    start = start_dir or os.path.expanduser("~/Pictures")
    if not os.path.isdir(start):
        start = os.path.expanduser("~")
    content = BoxLayout(orientation="vertical", spacing=dp(6))
    chooser = FileChooserListView(path=start, filters=IMAGE_FILTERS)
    content.add_widget(chooser)
    buttons = BoxLayout(size_hint_y=None, height=dp(48), spacing=dp(6))
    cancel = Button(text=tr("common.cancel"))
    choose = Button(text=tr("photos.choose"))
    buttons.add_widget(cancel)
    buttons.add_widget(choose)
    content.add_widget(buttons)
    popup = Popup(title=tr("photos.choose_title"), content=content, size_hint=(0.9, 0.9))

    def pick(*_):
        selection = chooser.selection
        popup.dismiss()
        callback(selection[0] if selection else None)

    choose.bind(on_release=pick)
    chooser.bind(on_submit=lambda *_: pick())
    cancel.bind(on_release=lambda *_: popup.dismiss())
    popup.open()
    return popup
