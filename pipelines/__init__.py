"""The code location: wires assets, checks, resources, jobs and schedules. Nothing imports it."""
