"""CHECK constraints exist, say the right thing, hold for the data, and are enforced."""

from plugin import checklist

checklist("constraints", globals())
