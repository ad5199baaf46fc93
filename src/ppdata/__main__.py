"""``python -m ppdata`` runs the command line."""

from ppdata.cli.main import main

main()
