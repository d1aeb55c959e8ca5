{{/*
Names and labels. The objects keep manifests/' names (the base name `fullnameOverride`,
"stigg-operator" by default) whatever the release is called: the operator, its RBAC and its
admission policies name each other, and the cluster-scoped ones exist once per cluster.
*/}}

{{/* The base name of the operator's objects. */}}
{{- define "stigg.fullname" -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{/* The chart label's value: name-version. */}}
{{- define "stigg.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Labels on every object: manifests/' `app.kubernetes.io/part-of` (its kustomization adds it to
all) and Helm's bookkeeping (the comparison with manifests/ drops exactly these four).
*/}}
{{- define "stigg.commonLabels" -}}
app.kubernetes.io/part-of: stigg-entitlements
helm.sh/chart: {{ include "stigg.chart" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* The operator's selector (Deployment, Service, PDB, spread constraints). */}}
{{- define "stigg.selectorLabels" -}}
app.kubernetes.io/name: {{ include "stigg.fullname" . }}
{{- end -}}

{{/* Labels on the operator's own objects. */}}
{{- define "stigg.labels" -}}
{{ include "stigg.selectorLabels" . }}
{{ include "stigg.commonLabels" . }}
{{- end -}}

{{/* The ServiceAccount the operator runs as, and as the admission policies know it. */}}
{{- define "stigg.serviceAccountName" -}}
{{- include "stigg.fullname" . -}}
{{- end -}}

{{- define "stigg.serviceAccountUser" -}}
system:serviceaccount:{{ .Release.Namespace }}:{{ include "stigg.serviceAccountName" . }}
{{- end -}}

{{/* The CEL condition every admission policy matches on: the operator's ServiceAccount only. */}}
{{- define "stigg.isTheOperator" -}}
- name: is-the-stigg-operator
  expression: "request.userInfo.username == '{{ include "stigg.serviceAccountUser" . }}'"
{{- end -}}

{{- define "stigg.leaseName" -}}
{{- .Values.leaderElection.leaseName | default (include "stigg.fullname" .) -}}
{{- end -}}

{{/* The ConfigMap of the sidecar repositories the sidecar-image policy admits. */}}
{{- define "stigg.sidecarImagesConfigMap" -}}
{{- include "stigg.fullname" . }}-sidecar-images
{{- end -}}

{{/* repository:tag or repository@digest. */}}
{{- define "stigg.operatorImage" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{- define "stigg.sidecarImage" -}}
{{- printf "%s:%s" .Values.sidecar.image.repository (.Values.sidecar.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* A monitoring object's namespace: its own value, else the release's. */}}
{{- define "stigg.monitoringNamespace" -}}
{{- .namespace | default .root.Release.Namespace -}}
{{- end -}}

{{/* The cleanup hook's annotations, at the weight given (its RBAC and script before its Job). */}}
{{- define "stigg.cleanupHook" -}}
helm.sh/hook: pre-delete
helm.sh/hook-weight: {{ . | quote }}
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
{{- end -}}
