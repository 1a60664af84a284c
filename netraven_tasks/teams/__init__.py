"""Teams: groups of users who see and act on each other's runs, batches and schedules."""
