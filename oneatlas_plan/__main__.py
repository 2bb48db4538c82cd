from __future__ import annotations

from oneatlas_plan.cli import main

if __name__ == "__main__":
    main()
