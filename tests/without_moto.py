"""``-p tests.without_moto``: the suite as installed without its ``selftest`` extra (moto
cannot be imported), for the self-test's own tests."""

import sys

sys.modules["moto"] = None  # type: ignore[assignment]  # import moto: ImportError
