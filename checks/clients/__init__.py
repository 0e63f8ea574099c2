"""Clients of outside services (AWS), built in one place."""
