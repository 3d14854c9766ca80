"""Gunicorn settings for serving Wangge: `gunicorn -w 2 'server:create_app()'` from the repository root reads them.

Each worker warms up (server/warmup.py) after loading the app and before taking requests, so the first tablet to
sync after a restart does not wait for one-time compilation.
"""


def post_worker_init(worker):
    from server.warmup import warm_up

    warm_up(worker.wsgi)
