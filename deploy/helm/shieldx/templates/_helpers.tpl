{{/* The chart's name, shortened to the 63 characters of a label value. */}}
{{- define "shieldx.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Name of every object: the release name, suffixed with the chart's name unless it already contains it. */}}
{{- define "shieldx.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels that select the gateway's pods (never change across upgrades). */}}
{{- define "shieldx.selectorLabels" -}}
app.kubernetes.io/name: {{ include "shieldx.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "shieldx.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "shieldx.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: shieldx
app.kubernetes.io/component: gateway
{{- end }}

{{/* ORCH_WORKERS, checked: a whole number from 1 to 64. */}}
{{- define "shieldx.workers" -}}
{{- $workers := .Values.workers }}
{{- $number := or (kindIs "float64" $workers) (kindIs "int64" $workers) (kindIs "int" $workers) }}
{{- if or (not $number) (lt (int $workers) 1) (gt (int $workers) 64) (ne (float64 (int $workers)) (float64 $workers)) }}
{{- fail (printf "workers must be a whole number from 1 to 64 (got %v)" $workers) }}
{{- end }}
{{- int $workers }}
{{- end }}

{{/* A CPU quantity of `workers × millicores`: whole cores when it divides evenly, else millicores. */}}
{{- define "shieldx.cpu" -}}
{{- $millis := mul (int .workers) (int .perWorker) }}
{{- if eq (mod $millis 1000) 0 }}{{ div $millis 1000 | quote }}{{ else }}{{ printf "%dm" $millis }}{{ end }}
{{- end }}

{{/* The data port's name: https with TLS, http without. */}}
{{- define "shieldx.dataPortName" -}}
{{- if .Values.tls.enabled }}https{{ else }}http{{ end }}
{{- end }}
