-- A fragment (%(reach)s): the recursive step of "reached(root, classid, objid)", from
-- objects whose expressions PostgreSQL evaluates (constraints, relations, indexes, column
-- defaults, types) to the functions they run; root is what the walk started from. pg_depend records what an expression
-- refers to, except pinned built-ins: functions, operators (which run their function)
-- and types (a domain runs its CHECKs; an array of a domain, its element's). A
-- function's own body is not followed: trusting a function trusts what it calls.
UNION
SELECT r.root, e.classid, e.objid
FROM reached r
CROSS JOIN LATERAL (
    SELECT d.refclassid, d.refobjid
    FROM pg_catalog.pg_depend d
    WHERE d.classid = r.classid AND d.objid = r.objid
      AND r.classid IN ('pg_catalog.pg_constraint'::pg_catalog.regclass::pg_catalog.oid,
                        'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid,
                        'pg_catalog.pg_attrdef'::pg_catalog.regclass::pg_catalog.oid,
                        'pg_catalog.pg_type'::pg_catalog.regclass::pg_catalog.oid)
      AND d.refclassid IN ('pg_catalog.pg_proc'::pg_catalog.regclass::pg_catalog.oid,
                           'pg_catalog.pg_operator'::pg_catalog.regclass::pg_catalog.oid,
                           'pg_catalog.pg_type'::pg_catalog.regclass::pg_catalog.oid)
    UNION ALL
    SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass::pg_catalog.oid, o.oprcode::pg_catalog.oid
    FROM pg_catalog.pg_operator o
    WHERE r.classid = 'pg_catalog.pg_operator'::pg_catalog.regclass::pg_catalog.oid
      AND o.oid = r.objid
    UNION ALL
    SELECT 'pg_catalog.pg_constraint'::pg_catalog.regclass::pg_catalog.oid, dc.oid
    FROM pg_catalog.pg_constraint dc
    WHERE r.classid = 'pg_catalog.pg_type'::pg_catalog.regclass::pg_catalog.oid
      AND dc.contypid = r.objid
) AS e(classid, objid)
