{{/* Building blocks of networkpolicies.yaml. */}}

{{- define "sentra.np.peer" -}}
{{- /* A pod of this release's component. Call with (list $ "gateway"). */ -}}
- podSelector:
    matchLabels:
      {{- include "sentra.selectorLabels" . | nindent 6 }}
{{- end }}

{{- define "sentra.np.dns" -}}
- to:
    {{- toYaml .Values.networkPolicy.dns.to | nindent 4 }}
  ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
{{- end }}

{{- define "sentra.np.nats" -}}
{{- if .Values.nats.enabled }}
- to:
    - podSelector:
        matchLabels:
          app.kubernetes.io/instance: {{ .Release.Name }}
          app.kubernetes.io/component: nats
  ports:
    - {protocol: TCP, port: 4222}
{{- else }}
- ports:
    - {protocol: TCP, port: 4222}
{{- end }}
{{- end }}

{{- define "sentra.np.postgres" -}}
{{- if eq .Values.database.mode "postgres" }}
- {{- with .Values.networkPolicy.postgres.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  ports:
    - {protocol: TCP, port: {{ .Values.networkPolicy.postgres.port }}}
{{- end }}
{{- end }}

{{- define "sentra.np.metricsIngress" -}}
- from:
    {{- toYaml .Values.networkPolicy.monitoringFrom | nindent 4 }}
  ports:
    - {protocol: TCP, port: {{ .Values.ports.metrics }}}
{{- end }}

{{- define "sentra.np.grpcTo" -}}
{{- /* Egress to a Sentra service of this release. Call with (list $ "retrieval"). */ -}}
{{- $root := index . 0 }}
- to:
    {{- include "sentra.np.peer" . | nindent 4 }}
  ports:
    - {protocol: TCP, port: {{ $root.Values.ports.grpc }}}
{{- end }}

{{- define "sentra.np.policy" -}}
{{- /* One component's policy. Call with (dict "root" $ "name" "x" "ingress" <yaml> "egress" <yaml>). */ -}}
{{- $root := .root }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "sentra.componentName" (list $root .name) }}
  labels:
    {{- include "sentra.componentLabels" (list $root .name) | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "sentra.selectorLabels" (list $root .name) | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress:
    {{- .ingress | nindent 4 }}
  egress:
    {{- .egress | nindent 4 }}
{{- end }}

{{- define "sentra.np.fromComponent" -}}
{{- /* Ingress from one component of this release on one port. Call with (list $ "gateway" 50051). */ -}}
- from:
    {{- include "sentra.np.peer" (list (index . 0) (index . 1)) | nindent 4 }}
  ports:
    - {protocol: TCP, port: {{ index . 2 }}}
{{- end }}

{{- define "sentra.np.peerRule" -}}
{{- /* Ingress from peers on ports; no peers: from anywhere (unless requirePeers: then nothing). */ -}}
{{- if or .from (not .requirePeers) }}
- {{- with .from }}
  from:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  ports:
    {{- range .ports }}
    - {protocol: TCP, port: {{ . }}}
    {{- end }}
{{- end }}
{{- end }}

{{- define "sentra.np.peerEgress" -}}
{{- /* Egress to peers on ports; no peers: any address on those ports. */ -}}
- {{- with .to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  ports:
    {{- range .ports }}
    - {protocol: TCP, port: {{ . }}}
    {{- end }}
{{- end }}

{{- define "sentra.np.extraEgress" -}}
{{- with .Values.networkPolicy.extraEgress }}
{{- toYaml . }}
{{- end }}
{{- end }}
