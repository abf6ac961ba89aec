"""The ``monitor`` command, one module per command group: ``main`` (the group, and ``run``,
``poll --once``, ``health``), ``check``, ``rules`` (``validate``, ``test``), ``feeds`` and
``alerts``; ``common`` holds what they share."""
