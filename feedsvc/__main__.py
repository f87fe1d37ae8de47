"""`feedsvc` and `python -m feedsvc`: the command line.

Kept free of imports on purpose: worker processes started by the parse pool
run the console script's module again (multiprocessing re-imports `__main__`),
and importing the whole app there cost each of them a second of CPU and tens of MB.
"""

from __future__ import annotations


def main() -> None:
    from feedsvc.app import main as run

    run()


if __name__ == "__main__":
    main()
