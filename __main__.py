"""The trailwatch Pulumi program (``pulumi up``): see components/program.py."""

from components.program import main

main()
