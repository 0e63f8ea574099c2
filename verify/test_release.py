"""The deploy landed what was released (with --release-manifest): code, images, migrations."""

from plugin import checklist

checklist("release", globals())
