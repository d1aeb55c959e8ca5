"""The patcher's one error: ``InjectionError`` means the Pod must be denied at admission.

Raised by every module of ``injection`` (a bad annotation, a volume or port the Pod already
uses, an unusable resource) and mapped to ``kopf.AdmissionError`` by the webhook adapter only;
its message names the annotation or field and the problem, for a person to act on. A Pod the
apiserver later rejects, or that crash-loops, is worse than a clear denial at admission.
"""

from __future__ import annotations


class InjectionError(ValueError):
    """The Pod must be denied; the message names the annotation or field and the problem."""
