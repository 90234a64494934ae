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
{{- $root := .root -}}
{{- $c := $root.Values.agent.config -}}
{{- $models := list -}}
{{- if .models -}}
{{- range $c.models -}}
{{- $m := deepCopy . -}}
{{- if not (hasPrefix "/" $m.path) -}}
{{- $_ := set $m "path" (printf "%s/%s" (trimSuffix "/" $root.Values.agent.modelVolume.mountPath) $m.path) -}}
{{- end -}}
{{- $models = append $models $m -}}
{{- end -}}
{{- end -}}
{{- $tls := dict "insecure" true -}}
{{- if ne $root.Values.tls.mode "disabled" -}}
{{- $dir := include "edgellm.agent.tlsDir" $root -}}
{{- $tls = dict "caFile" (printf "%s/ca.crt" $dir) "certFile" (printf "%s/tls.crt" $dir) "keyFile" (printf "%s/tls.key" $dir) "allowedClients" (list $root.Values.tls.operatorClientName) -}}
{{- end -}}
{{- $config := dict
  "listen" (printf "0.0.0.0:%d" (int $root.Values.agent.grpcPort))
  "metricsListen" (printf "0.0.0.0:%d" (int $root.Values.agent.metricsPort))
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

{{/* The Pod the operator makes LLM pods from (--llm-pod-template): the agent container and pod
settings of agent.*, the LLM agent config (no models: the operator adds --model flags) and the
node model cache llm.cache. The operator adds the node, the fetch init containers and the mounts
of the cache. */}}
{{- define "edgellm.llm.podTemplate" -}}
{{- $a := .Values.agent -}}
{{- $cache := .Values.llm.cache -}}
metadata:
  labels:
    {{- include "edgellm.componentLabels" (dict "root" . "component" "llm") | nindent 4 }}
    {{- with $a.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $a.podAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  serviceAccountName: {{ include "edgellm.agent.serviceAccountName" . }}
  automountServiceAccountToken: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $a.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml $a.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ $a.terminationGracePeriodSeconds }}
  {{- with $a.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - {{ include "edgellm.agent.container" (dict "root" . "models" false "resources" .Values.llm.resources) | indent 6 | trim }}
  volumes:
    {{- include "edgellm.agent.volumes" (dict "root" . "models" false "config" (printf "%s-llm" (include "edgellm.fullname" .))) | nindent 4 }}
    # The node model cache: verified GGUF files the LLM pods on a node share (LRU-bounded).
    - name: model-cache
      {{- if eq $cache.type "hostPath" }}
      hostPath:
        path: {{ $cache.hostPath.path }}
        type: DirectoryOrCreate
      {{- else }}
      persistentVolumeClaim:
        claimName: {{ $cache.persistentVolumeClaim.claimName | default (printf "%s-model-cache" (include "edgellm.fullname" .)) }}
      {{- end }}
{{- end }}

{{/* The agent container of the DaemonSet and of the LLM pods: dict "root" (the chart context),
"models" (mount agent.modelVolume: the DaemonSet's models; the LLM pods' come from the cache) and
"resources" (agent.resources or llm.resources). */}}
{{- define "edgellm.agent.container" -}}
{{- $root := .root -}}
name: agent
image: {{ include "edgellm.image" (dict "image" $root.Values.agent.image "root" $root) | quote }}
imagePullPolicy: {{ $root.Values.agent.image.pullPolicy }}
# The image's entrypoint is `node dist/src/cli/main.js agent`.
args:
  - --config=/etc/edgellm/agent/agent.yaml
env:
  - name: HOME
    value: /tmp
  - name: NODE_NAME
    valueFrom:
      fieldRef:
        fieldPath: spec.nodeName
  {{- with $root.Values.agent.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
ports:
  - name: grpc
    containerPort: {{ $root.Values.agent.grpcPort }}
    protocol: TCP
  - name: metrics
    containerPort: {{ $root.Values.agent.metricsPort }}
    protocol: TCP
startupProbe:
  {{- include "edgellm.agent.probeHandler" (dict "path" "/healthz") | nindent 2 }}
  {{- toYaml $root.Values.agent.startupProbe | nindent 2 }}
livenessProbe:
  {{- include "edgellm.agent.probeHandler" (dict "path" "/healthz") | nindent 2 }}
  {{- toYaml $root.Values.agent.livenessProbe | nindent 2 }}
readinessProbe:
  {{- include "edgellm.agent.probeHandler" (dict "path" "/readyz") | nindent 2 }}
  {{- toYaml $root.Values.agent.readinessProbe | nindent 2 }}
resources:
  {{- toYaml .resources | nindent 2 }}
securityContext:
  {{- toYaml $root.Values.agent.securityContext | nindent 2 }}
volumeMounts:
  - name: config
    mountPath: /etc/edgellm/agent
    readOnly: true
  {{- if .models }}
  - name: models
    mountPath: {{ $root.Values.agent.modelVolume.mountPath }}
    readOnly: true
  {{- end }}
  {{- if ne $root.Values.tls.mode "disabled" }}
  - name: tls
    mountPath: {{ include "edgellm.agent.tlsDir" $root }}
    readOnly: true
  {{- end }}
  - name: tmp
    mountPath: /tmp
  {{- with $root.Values.agent.extraVolumeMounts }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/* The agent pods' volumes: dict "root", "models" (as above) and "config" (the ConfigMap with
agent.yaml). */}}
{{- define "edgellm.agent.volumes" -}}
{{- $root := .root -}}
- name: config
  configMap:
    name: {{ .config }}
{{- if .models }}
- name: models
  {{- if eq $root.Values.agent.modelVolume.type "hostPath" }}
  hostPath:
    path: {{ $root.Values.agent.modelVolume.hostPath.path }}
    type: {{ $root.Values.agent.modelVolume.hostPath.type }}
  {{- else }}
  persistentVolumeClaim:
    claimName: {{ $root.Values.agent.modelVolume.persistentVolumeClaim.claimName | default (printf "%s-models" (include "edgellm.fullname" $root)) }}
    readOnly: true
  {{- end }}
{{- end }}
{{- if ne $root.Values.tls.mode "disabled" }}
- name: tls
  secret:
    secretName: {{ include "edgellm.tls.agentSecret" $root }}
    defaultMode: 0440
{{- end }}
# The root filesystem is read-only; llama.cpp and Node write temporary files here.
- name: tmp
  emptyDir:
    sizeLimit: 1Gi
{{- with $root.Values.agent.extraVolumes }}
{{- toYaml . | nindent 0 }}
{{- end }}
{{- end }}
