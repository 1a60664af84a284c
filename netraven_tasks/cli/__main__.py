"""``python -m netraven_tasks.cli``: what the ``netraven-tasks`` console script runs."""

from netraven_tasks.cli import main

main()
