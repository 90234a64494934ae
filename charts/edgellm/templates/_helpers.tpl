{{/* Chart name, truncated to 63 characters (a label value's limit). */}}
{{- define "edgellm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Prefix of object names: <release>-<chart>, or the release name when it contains the chart name. */}}
{{- define "edgellm.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "edgellm.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "edgellm.labels" -}}
helm.sh/chart: {{ include "edgellm.chart" . }}
app.kubernetes.io/name: {{ include "edgellm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: edgellm
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of a component: (dict "root" $ "component" "operator"). The operator finds agent
pods by app.kubernetes.io/name=edgellm and app.kubernetes.io/component=agent (CONTRACT.md), so
the name label is the fixed "edgellm", not nameOverride. */}}
{{- define "edgellm.selectorLabels" -}}
app.kubernetes.io/name: edgellm
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* All labels of a component's objects. */}}
{{- define "edgellm.componentLabels" -}}
{{ include "edgellm.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "edgellm.operator.fullname" -}}
{{ include "edgellm.fullname" . }}-operator
{{- end }}

{{- define "edgellm.agent.fullname" -}}
{{ include "edgellm.fullname" . }}-agent
{{- end }}

{{- define "edgellm.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (include "edgellm.operator.fullname" .) .Values.operator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "edgellm.agent.serviceAccountName" -}}
{{- if .Values.agent.serviceAccount.create }}
{{- default (include "edgellm.agent.fullname" .) .Values.agent.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.agent.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* An image reference: (dict "image" .Values.operator.image "root" $). A digest wins over the tag. */}}
{{- define "edgellm.image" -}}
{{- $repository := .image.repository }}
{{- with .root.Values.global.imageRegistry }}
{{- $repository = printf "%s/%s" (trimSuffix "/" .) $repository }}
{{- end }}
{{- if .image.digest }}
{{- printf "%s@%s" $repository .image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .root.Chart.AppVersion .image.tag) }}
{{- end }}
{{- end }}

{{/* Names of the TLS Secrets. */}}
{{- define "edgellm.tls.agentSecret" -}}
{{- if eq .Values.tls.mode "existing" }}
{{- required "tls.existing.agentSecret is required when tls.mode is existing" .Values.tls.existing.agentSecret }}
{{- else }}
{{- include "edgellm.fullname" . }}-agent-tls
{{- end }}
{{- end }}

{{- define "edgellm.tls.operatorSecret" -}}
{{- if eq .Values.tls.mode "existing" }}
{{- required "tls.existing.operatorSecret is required when tls.mode is existing" .Values.tls.existing.operatorSecret }}
{{- else }}
{{- include "edgellm.fullname" . }}-operator-client-tls
{{- end }}
{{- end }}

{{/* DNS names of the agent's server certificate: the name the operator verifies, and the names of
the headless agent Service. */}}
{{- define "edgellm.tls.agentDnsNames" -}}
{{- $svc := include "edgellm.agent.fullname" . -}}
{{- list .Values.tls.agentServerName $svc (printf "%s.%s.svc" $svc .Release.Namespace) (printf "*.%s.%s.svc" $svc .Release.Namespace) | toJson }}
{{- end }}

{{/* Where the agent reads its TLS files. */}}
{{- define "edgellm.agent.tlsDir" -}}
/etc/edgellm/tls
{{- end }}

{{/* The agent's config file (src/agent/config.ts), rendered from agent.config. */}}
{{- define "edgellm.agent.config" -}}
{{- $c := .Values.agent.config -}}
{{- $models := list -}}
{{- range $c.models -}}
{{- $m := deepCopy . -}}
{{- if not (hasPrefix "/" $m.path) -}}
{{- $_ := set $m "path" (printf "%s/%s" (trimSuffix "/" $.Values.agent.modelVolume.mountPath) $m.path) -}}
{{- end -}}
{{- $models = append $models $m -}}
{{- end -}}
{{- $tls := dict "insecure" true -}}
{{- if ne .Values.tls.mode "disabled" -}}
{{- $dir := include "edgellm.agent.tlsDir" . -}}
{{- $tls = dict "caFile" (printf "%s/ca.crt" $dir) "certFile" (printf "%s/tls.crt" $dir) "keyFile" (printf "%s/tls.key" $dir) "allowedClients" (list .Values.tls.operatorClientName) -}}
{{- end -}}
{{- $config := dict
  "listen" (printf "0.0.0.0:%d" (int .Values.agent.grpcPort))
  "metricsListen" (printf "0.0.0.0:%d" (int .Values.agent.metricsPort))
  "tls" $tls
  "models" $models
  "threads" $c.threads
  "calibrateOnStart" $c.calibrateOnStart
  "batchCacheSize" $c.batchCacheSize
  "shutdownGraceSeconds" $c.shutdownGraceSeconds
  "orphanGraceSeconds" $c.orphanGraceSeconds
  "logLevel" $c.logLevel -}}
{{- toYaml $config }}
{{- end }}

{{/* The agent's probe handlers: HTTP on its metrics port (/healthz: the process serves;
/readyz: a model is loaded and it is not draining). The kubelet's gRPC probe cannot speak mTLS. */}}
{{- define "edgellm.agent.probeHandler" -}}
httpGet:
  path: {{ .path }}
  port: metrics
{{- end }}
