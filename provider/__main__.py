"""Entry point of the trailwatch component provider: the engine runs it from this folder's virtualenv."""

from trailwatch.components.provider import main

if __name__ == "__main__":
    main()
