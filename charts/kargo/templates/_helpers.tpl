{{/* Labels every object of the release carries. */}}
{{- define "kargo.labels" -}}
app.kubernetes.io/part-of: kargo
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* The image reference. */}}
{{- define "kargo.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{/* Logging flags of kargo controller and kargo api. */}}
{{- define "kargo.logArgs" -}}
- --log-level={{ .Values.logLevel }}
- --log-format={{ .Values.logFormat }}
{{- end }}

{{/*
Pod anti-affinity: "soft" prefers, "hard" requires one replica a node.
Call with (dict "mode" .Values.x.podAntiAffinity "name" "kargo-controller").
*/}}
{{- define "kargo.antiAffinity" -}}
{{- if eq .mode "soft" }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            app.kubernetes.io/name: {{ .name }}
{{- else if eq .mode "hard" }}
affinity:
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: kubernetes.io/hostname
      labelSelector:
        matchLabels:
          app.kubernetes.io/name: {{ .name }}
{{- end }}
{{- end }}

{{/* The restricted Pod Security profile, which both Deployments meet. */}}
{{- define "kargo.podSecurityContext" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 65532
  runAsGroup: 65532
  fsGroup: 65532
  seccompProfile:
    type: RuntimeDefault
{{- end }}
{{- define "kargo.containerSecurityContext" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop:
    - ALL
{{- end }}

{{/* The flags every controller set shares (the default set's Deployment and the shards'). */}}
{{- define "kargo.controllerArgs" -}}
- --cache-dir=/var/cache/kargo
- --argocd-namespace={{ .Values.controller.argocdNamespace }}
- --stage-history-limit={{ .Values.controller.stageHistoryLimit }}
- --gc-interval={{ .Values.controller.gc.interval }}
- --gc-keep-freight={{ .Values.controller.gc.keepFreight }}
- --gc-keep-promotions={{ .Values.controller.gc.keepPromotions }}
{{- if .Values.controller.webhookReceiver.enabled }}
- --webhook-addr=:8082
{{- else }}
- --webhook-addr=
{{- end }}
{{- if .Values.controller.metrics.enabled }}
- --metrics-addr=:8080
{{- else }}
- --metrics-addr=0
{{- end }}
{{- include "kargo.outboundArgs" . }}
{{- end }}

{{/* The outbound address policy (controller.outbound), which the API server's Git reads share. */}}
{{- define "kargo.outboundArgs" -}}
{{- range .Values.controller.outbound.allow }}
- --allow-outbound={{ . }}
{{- end }}
{{- if .Values.controller.outbound.allowPrivate }}
- --allow-private-outbound
{{- end }}
{{- end }}
