{{/* The Component's name, <release>-<component.name>: every object is named after it. */}}
{{- define "tmf680.name" -}}
{{- printf "%s-%s" .Release.Name .Values.component.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tmf680.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object; oda.tmforum.org/componentName is what the Canvas and its test kit look for. */}}
{{- define "tmf680.labels" -}}
helm.sh/chart: {{ include "tmf680.chart" . }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
oda.tmforum.org/componentName: {{ include "tmf680.name" . }}
{{- end -}}

{{/* Selector labels of one part: api, worker, mongodb, data-load. */}}
{{- define "tmf680.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .part }}
{{- end -}}

{{- define "tmf680.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "tmf680.apiService" -}}{{ include "tmf680.name" . }}{{- end -}}
{{- define "tmf680.metricsService" -}}{{ printf "%s-metrics" (include "tmf680.name" .) | trunc 63 }}{{- end -}}
{{- define "tmf680.mongodbName" -}}{{ printf "%s-mongodb" (include "tmf680.name" .) | trunc 63 }}{{- end -}}

{{- define "tmf680.mongodbSecret" -}}
{{- default (printf "%s-mongodb-uri" (include "tmf680.name" .)) .Values.mongodb.existingSecret -}}
{{- end -}}

{{/* The TMF680 base path the server mounts the API at (and the Component declares). */}}
{{- define "tmf680.basePath" -}}
{{- trimSuffix "/" .Values.settings.TMF680_BASE_PATH -}}
{{- end -}}

{{/* Environment shared by the API, worker and data-load containers. */}}
{{- define "tmf680.env" -}}
- name: MONGODB_URI
  valueFrom:
    secretKeyRef:
      name: {{ include "tmf680.mongodbSecret" . }}
      key: {{ .Values.mongodb.secretKey }}
- name: TMF680_CANVAS_SYSTEM_ROLE
  value: {{ .Values.security.canvasSystemRole | quote }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "tmf680.envFrom" -}}
- configMapRef:
    name: {{ include "tmf680.name" . }}-settings
{{- end -}}

{{/* The image's writable paths (the root filesystem is read-only) and any extra volumes. */}}
{{- define "tmf680.volumes" -}}
- name: tmp
  emptyDir: {}
- name: data
  emptyDir: {}
- name: prometheus
  emptyDir:
    medium: Memory
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "tmf680.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: /var/lib/tmf680
- name: prometheus
  mountPath: /var/run/tmf680/prometheus
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "tmf680.podSpecCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
automountServiceAccountToken: false
{{- end -}}
