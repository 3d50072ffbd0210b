"""Scheduling: the registry of devices, placement by requirements and profiles, device profiles,
batch fan-out, and Ray clusters registered as devices."""
