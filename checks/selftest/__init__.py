"""``--self-test``: every selected invariant proven able to fail, on the suite's own copies.

Each kind declares the faults its checks exist to catch (``Kind.faults``, in its own
module; the pieces they are made of are in :mod:`checks.selftest.faults`). The self-test
builds the expected database once (:mod:`~checks.selftest.base`), applies each fault to a
fresh copy of it (or of the migration files, or to an empty account of a local AWS
stand-in, :mod:`~checks.selftest.local_aws`), runs the check there through the ordinary run
path (:mod:`~checks.selftest.run`) and judges whether it failed for the injected reason
(:mod:`~checks.selftest.proof`). No target is touched.
"""
