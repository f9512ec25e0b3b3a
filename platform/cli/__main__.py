"""`python -m itsm.cli`: the same as the `itsm` console script."""

from itsm.cli import main

main()
