"""The StiggEntitlements operator (kopf): renders default values and injects the sidecar.

This package is the operator's home; it is filled in by the operator issue. It lives under
``operator/`` but is named ``stigg_operator`` so it never shadows the standard library's
``operator`` module.
"""
