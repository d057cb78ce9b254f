"""`python -m samiksha` (and `torchrun ... -m samiksha train ...`): the command line."""

from .cli import main

main()
