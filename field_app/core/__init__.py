"""The tablet's core: no Kivy here, so it is tested without a window and could serve another front end."""
