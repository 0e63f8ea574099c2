"""The suite's own throwaway PostgreSQL and what it builds there (never a target)."""
