"""One module and one kv file per screen; `WanggeApp.screen(name)` loads both on first use."""
