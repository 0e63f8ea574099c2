"""The trade-stream service is alive: its heartbeat is fresh, in the database and on AWS."""

from plugin import checklist

checklist("heartbeat", globals())
