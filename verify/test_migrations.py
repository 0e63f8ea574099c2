"""Migrations really took effect: recorded, in order, distinct, and each one replays."""

from plugin import checklist

checklist("migrations", globals())
