{{/* Names and labels shared by every template. */}}

{{- define "twoshot.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "twoshot.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "twoshot.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "twoshot.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "twoshot.gpuImage" -}}
{{- printf "%s:%s" .Values.image.gpuRepository (.Values.image.gpuTag | default .Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* The Secret holding the database URLs, S3 keys and provenance keys. */}}
{{- define "twoshot.secretName" -}}
{{- printf "%s-secrets" (include "twoshot.fullname" .) -}}
{{- end -}}

{{- define "twoshot.databaseSecret" -}}
{{- .Values.database.existingSecret | default (include "twoshot.secretName" .) -}}
{{- end -}}

{{- define "twoshot.blobSecret" -}}
{{- .Values.blobs.existingSecret | default (include "twoshot.secretName" .) -}}
{{- end -}}

{{- define "twoshot.provenanceSecret" -}}
{{- .Values.provenance.existingSecret | default (include "twoshot.secretName" .) -}}
{{- end -}}

{{- define "twoshot.remoteSecret" -}}
{{- .Values.remote.existingSecret | default (printf "%s-remote" (include "twoshot.fullname" .)) -}}
{{- end -}}

{{- define "twoshot.metricsApiSecret" -}}
{{- .Values.keda.metricsApi.existingSecret | default (printf "%s-keda-metrics-api" (include "twoshot.fullname" .)) -}}
{{- end -}}

{{/* libpq URL for KEDA from the SQLAlchemy URL: postgresql+psycopg:// → postgresql:// */}}
{{- define "twoshot.kedaConnection" -}}
{{- regexReplaceAll "^postgresql\\+[a-z0-9]+://" .Values.database.url "postgresql://" -}}
{{- end -}}

{{/*
The number a pool scales on, capped at what its maximum of workers can take
(maxReplicas × tasksPerWorker): the queue_depth view of migration 0010.
tests/test_autoscale.py runs the query rendered here against PostgreSQL.
*/}}
{{- define "twoshot.depthQuery" -}}
{{- $cap := mul (int .pool.maxReplicas) (int .pool.tasksPerWorker) -}}
SELECT LEAST(COALESCE(SUM(depth), 0), {{ $cap }}) FROM queue_depth WHERE engine = '{{ .engine }}'
{{- end -}}

{{- define "twoshot.promQuery" -}}
{{- $cap := mul (int .pool.maxReplicas) (int .pool.tasksPerWorker) -}}
clamp_max(max(twoshot_queue_depth{engine="{{ .engine }}"}) or vector(0), {{ $cap }})
{{- end -}}

{{/* Environment shared by the API, the migrations and the database workers. */}}
{{- define "twoshot.serverEnv" -}}
- name: TWOSHOT_DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ include "twoshot.databaseSecret" . }}, key: database-url}
{{- with .Values.blobs.url }}
- name: TWOSHOT_BLOB_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.blobs.endpointUrl }}
- name: TWOSHOT_S3_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
{{- if or .Values.blobs.existingSecret .Values.blobs.accessKeyId }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef: {name: {{ include "twoshot.blobSecret" . }}, key: AWS_ACCESS_KEY_ID}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef: {name: {{ include "twoshot.blobSecret" . }}, key: AWS_SECRET_ACCESS_KEY}
{{- end }}
{{- with .Values.publicUrl }}
- name: TWOSHOT_PUBLIC_URL
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* Provenance keys, for every process that signs results (the workers). */}}
{{- define "twoshot.provenanceEnv" -}}
{{- if or .Values.provenance.existingSecret .Values.provenance.c2paCert }}
- name: TWOSHOT_C2PA_CERT
  value: /var/run/twoshot/provenance/c2pa-cert
- name: TWOSHOT_C2PA_KEY
  value: /var/run/twoshot/provenance/c2pa-key
{{- end }}
{{- if or .Values.provenance.existingSecret .Values.provenance.watermarkKey }}
- name: TWOSHOT_WATERMARK_KEY
  valueFrom:
    secretKeyRef: {name: {{ include "twoshot.provenanceSecret" . }}, key: watermark-key, optional: true}
{{- end }}
{{- end -}}

{{- define "twoshot.provenanceVolume" -}}
{{- if or .Values.provenance.existingSecret .Values.provenance.c2paCert }}
- name: provenance
  secret:
    secretName: {{ include "twoshot.provenanceSecret" . }}
    defaultMode: 0440
    items:
      - {key: c2pa-cert, path: c2pa-cert}
      - {key: c2pa-key, path: c2pa-key}
{{- end }}
{{- end -}}

{{- define "twoshot.provenanceMount" -}}
{{- if or .Values.provenance.existingSecret .Values.provenance.c2paCert }}
- {name: provenance, mountPath: /var/run/twoshot/provenance, readOnly: true}
{{- end }}
{{- end -}}

{{/* Writable scratch: the root filesystem is read-only. */}}
{{- define "twoshot.scratchEnv" -}}
- {name: HOME, value: /tmp}
- {name: MPLCONFIGDIR, value: /tmp/matplotlib}
{{- end -}}

{{/* "true" when some pod talks to the database (the API or a pool that is not remote). */}}
{{- define "twoshot.usesDatabase" -}}
{{- $uses := .Values.api.enabled -}}
{{- range $name, $pool := .Values.pools -}}
{{- if and $pool.enabled (not $pool.remote) -}}{{- $uses = true -}}{{- end -}}
{{- end -}}
{{- if $uses -}}true{{- end -}}
{{- end -}}
