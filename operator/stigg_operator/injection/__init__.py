"""The sidecar injection as a pure patcher: a Pod and an ``EffectiveConfig`` in, a JSON Patch out.

No I/O, no kopf, no Kubernetes client: the webhook adapter hands over the Pod of an
AdmissionReview as plain dicts and returns what ``patch`` computes as the review's RFC 6902
JSON Patch. Everything the Pod will get is decided here, so it is tested here, on dicts. As
Dapr splits its own patcher, one module per concern, each importing only those before it:

* ``errors``: ``InjectionError``, the one way the patcher says "deny this Pod" (its message
  names the annotation or field and the problem);
* ``grammar``: Kubernetes' quantity grammar and distribution/reference's image grammar, checked
  the way the apiserver and the kubelet would;
* ``overrides``: the per-Pod annotations (image, log level, CPU and memory requests and limits),
  validated into ``Overrides``;
* ``known_ports``: the table of well-known sidecars and agents (Istio's ``istio-proxy``,
  Linkerd, Dapr, Consul, OpenTelemetry, Datadog...), how their containers are recognised, and
  the ports they bind without declaring them;
* ``envfrom``: what a container's ``envFrom`` sets of the variables the injector adds (a
  ConfigMap the webhook read sets it: honoured; a Secret, never read, or a ConfigMap not seen:
  unknown, so the entry is added with a warning), and which ConfigMaps are worth reading;
* ``template``: the sidecar container (native sidecar: an init container with
  ``restartPolicy: Always``), its env, its volumes and the injected annotation's value; also
  the container of Standalone mode's shared Deployment (``standalone``);
* ``shape``: the fields the patcher reads, checked first, so a malformed object is denied
  with the field named in words rather than a Python message;
* ``patch``: whether a Pod is left alone (``skip_reason``), the clash check (declared ports and
  known sidecars' undeclared ones), where the sidecar goes (``sidecar_position``: after a known
  native sidecar such as ``istio-proxy``), and the JSON Patch assembly against the Pod exactly
  as given (``build``, the entry point; ``assemble`` once ``skip_reason`` said nothing, as the
  webhook does).
"""
