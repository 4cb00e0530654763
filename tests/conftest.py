"""Shared test configuration.

Hypothesis runs the "ci" profile everywhere: derandomized so a failure
reproduces on every machine, no deadline because CI machines vary in speed.
Select another with ``pytest --hypothesis-profile=NAME`` after registering it here.
"""

from hypothesis import settings

settings.register_profile("ci", deadline=None, derandomize=True, max_examples=100)
settings.load_profile("ci")
