"""The live schema is the schema the migrations build: no object missing, changed or extra."""

from plugin import checklist

checklist("drift", globals())
