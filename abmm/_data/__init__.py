"""Package data: the shipped scenarios and policies (mapped from the repository's top-level
``scenarios/`` and ``policies/`` folders by ``setup.py``); find them through
:mod:`abmm.resources`."""
