"""`python -m field_app [--data DIR]`: the grid administrator's tablet app."""
from __future__ import annotations

import argparse
import os


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m field_app", description="Wangge field app (网格管理员平板)")
    parser.add_argument("--data", metavar="DIR", default=os.environ.get("WANGGE_FIELD_DATA"),
                        help="where the app keeps its database and photos (default: ~/.wangge-field, or the "
                             "app's storage on Android)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    # Kivy reads sys.argv for its own options unless told not to; ours are parsed above.
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from field_app.ui.app import main as run_app

    run_app(data_dir=args.data)


if __name__ == "__main__":
    main()
