"""The whole pipeline seen from AWS: schedules fire, alarms are quiet, logs and Lambda
functions show no more errors than allowed (AWS checks)."""

from plugin import checklist

checklist("pipeline", globals())
