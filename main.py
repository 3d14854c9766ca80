"""Android entry point: python-for-android starts `main.py` in buildozer's source.dir (the repository root)."""
from field_app.__main__ import main

if __name__ == "__main__":
    main()
