SELECT to_regclass(pg_catalog.format('%%I.%%I', %(schema)s::text, %(table)s::text)) IS NOT NULL
