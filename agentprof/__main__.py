"""``python -m agentprof`` runs the command line."""

from agentprof.cli import main

main()
