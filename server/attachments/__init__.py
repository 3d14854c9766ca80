"""Photos and other files: content-addressed by SHA-256, uploaded in resumable chunks."""
