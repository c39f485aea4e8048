"""What the tests share: loopback servers (servers.py) and project files (project.py).

The fixtures that start and stop them are in conftest.py."""
