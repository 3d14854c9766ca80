"""The offline sync protocol: push (idempotent mutations), pull (change log after a cursor), conflicts."""
