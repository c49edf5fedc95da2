{{/*
Names, labels and the addresses services find each other at.
*/}}

{{- define "sentra.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sentra.fullname" -}}
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

{{/* The name of one component's objects: <fullname>-<component>. Call with (list $ "gateway"). */}}
{{- define "sentra.componentName" -}}
{{- $root := index . 0 }}
{{- printf "%s-%s" (include "sentra.fullname" $root) (index . 1) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sentra.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "sentra.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sentra
{{- end }}

{{/* Labels of one component. Call with (list $ "gateway"). */}}
{{- define "sentra.componentLabels" -}}
{{- $root := index . 0 -}}
{{ include "sentra.labels" $root }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/* Selector labels of one component (stable across upgrades). Call with (list $ "gateway"). */}}
{{- define "sentra.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "sentra.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/* An image reference: registry/repository:tag@digest. Call with (dict "image" <map> "default" <repository> "root" $). */}}
{{- define "sentra.imageRef" -}}
{{- $root := .root }}
{{- $img := .image | default dict }}
{{- $repository := $img.repository | default .default }}
{{- $registry := $img.registry | default "" }}
{{- if and (not $img.repository) $root.Values.image.registry }}
{{- $registry = $root.Values.image.registry }}
{{- end }}
{{- $tag := $img.tag | default $root.Values.image.tag | default $root.Chart.AppVersion }}
{{- if $registry }}{{ $registry }}/{{ end }}{{ $repository }}:{{ $tag }}{{ if $img.digest }}@{{ $img.digest }}{{ end }}
{{- end }}

{{/* The image of a Sentra service. Call with (list $ "gateway"). */}}
{{- define "sentra.serviceImage" -}}
{{- $root := index . 0 }}
{{- $service := index . 1 }}
{{- $values := index $root.Values $service | default dict }}
{{- include "sentra.imageRef" (dict "image" ($values.image | default dict) "default" (printf "%s/%s" $root.Values.image.repository $service) "root" $root) }}
{{- end }}

{{/* gRPC target (host:port) of a Sentra service in this release. Call with (list $ "retrieval"). */}}
{{- define "sentra.target" -}}
{{- $root := index . 0 }}
{{- $service := index . 1 }}
{{- if and (eq $service "training") (eq $root.Values.hybrid.role "serving") }}
{{- required "hybrid.trainingTarget is required with hybrid.role serving" $root.Values.hybrid.trainingTarget }}
{{- else if and (eq $service "retrieval") (eq $root.Values.hybrid.role "training") }}
{{- required "hybrid.retrievalTarget is required with hybrid.role training" $root.Values.hybrid.retrievalTarget }}
{{- else if (index $root.Values $service).enabled }}
{{- printf "%s:%d" (include "sentra.componentName" (list $root $service)) (int $root.Values.ports.grpc) }}
{{- end }}
{{- end }}

{{/* The NATS subchart's full name, computed as the subchart computes it. */}}
{{- define "sentra.natsName" -}}
{{- $nats := .Values.nats | default dict }}
{{- if $nats.fullnameOverride }}
{{- $nats.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default "nats" $nats.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sentra.natsUrl" -}}
{{- if .Values.bus.url }}
{{- .Values.bus.url }}
{{- else if .Values.nats.enabled }}
{{- printf "nats://%s:4222" (include "sentra.natsName" .) }}
{{- else }}
{{- fail "the event bus: set nats.enabled=true (NATS with this release) or bus.url (an external NATS)" }}
{{- end }}
{{- end }}

{{/* The Qdrant subchart's full name, computed as the subchart computes it. */}}
{{- define "sentra.qdrantName" -}}
{{- $q := .Values.qdrant | default dict }}
{{- if $q.fullnameOverride }}
{{- $q.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default "qdrant" $q.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sentra.qdrantUrl" -}}
{{- if .Values.retrieval.qdrantServer.url }}
{{- .Values.retrieval.qdrantServer.url }}
{{- else if .Values.qdrant.enabled }}
{{- printf "http://%s:6333" (include "sentra.qdrantName" .) }}
{{- else }}
{{- fail "retrieval.engine is qdrant: set qdrant.enabled=true (Qdrant with this release) or retrieval.qdrantServer.url" }}
{{- end }}
{{- end }}

{{/* Secret names: an existing Secret when given, else the one this chart generates once. */}}
{{- define "sentra.busSecret" -}}
{{- .Values.global.sentra.busSecret | default (printf "%s-bus" .Release.Name) }}
{{- end }}

{{- define "sentra.identitySecret" -}}
{{- .Values.identity.existingSecret | default (include "sentra.componentName" (list . "identity")) }}
{{- end }}

{{- define "sentra.encryptionSecret" -}}
{{- .Values.encryption.existingSecret | default (include "sentra.componentName" (list . "encryption")) }}
{{- end }}

{{- define "sentra.rayTokenSecret" -}}
{{- .Values.training.ray.tokenSecret.name | default (include "sentra.componentName" (list . "ray-token")) }}
{{- end }}

{{/* The Ray head's Service (KubeRay names it <cluster>-head-svc). */}}
{{- define "sentra.rayClusterName" -}}
{{- include "sentra.componentName" (list . "ray") }}
{{- end }}

{{- define "sentra.rayAddress" -}}
{{- if eq .Values.training.ray.mode "cluster" }}
{{- printf "http://%s-head-svc:8265" (include "sentra.rayClusterName" .) }}
{{- else if eq .Values.training.ray.mode "external" }}
{{- required "training.ray.address is required with training.ray.mode external" .Values.training.ray.address }}
{{- end }}
{{- end }}

{{/* PVC names: an existing claim when given, else the one this chart creates. Call with (list $ "adapters"). */}}
{{- define "sentra.claimName" -}}
{{- $root := index . 0 }}
{{- $which := index . 1 }}
{{- (index $root.Values.storage $which).existingClaim | default (include "sentra.componentName" (list $root $which)) }}
{{- end }}

{{/* Where things live inside Sentra's pods. */}}
{{- define "sentra.paths.data" -}}/var/lib/sentra/data{{- end }}
{{- define "sentra.paths.adapters" -}}/var/lib/sentra/adapters{{- end }}
{{- define "sentra.paths.identity" -}}/etc/sentra/identity{{- end }}
{{- define "sentra.paths.bus" -}}/etc/sentra/bus{{- end }}
{{- define "sentra.paths.keys" -}}/etc/sentra/keys{{- end }}
{{- define "sentra.paths.ray" -}}/etc/sentra/ray{{- end }}
{{- define "sentra.paths.models" -}}/models{{- end }}

{{/* Signing keys by issuer: the gateway and the services with calls of their own
(sentra_common.identity.SIGNING_SERVICES). The file names are sentra_common.identity.key_path's. */}}
{{- define "sentra.signingKeyFile" -}}
{{- if eq . "gateway" }}gateway.key{{ else }}service-{{ . }}.key{{ end }}
{{- end }}
{{- define "sentra.signingServices" -}}
{{- list "gateway" "retrieval" "training" | toJson }}
{{- end }}

{{/* The container securityContext of every Sentra container: Kubernetes' restricted profile. */}}
{{- define "sentra.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* The pod securityContext. Call with (dict "root" $ "seccomp" <optional profile>). */}}
{{- define "sentra.podSecurityContext" -}}
{{- $sc := .root.Values.securityContext -}}
runAsNonRoot: true
runAsUser: {{ $sc.runAsUser }}
runAsGroup: {{ $sc.runAsGroup }}
fsGroup: {{ $sc.fsGroup }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  {{- toYaml (.seccomp | default (dict "type" "RuntimeDefault")) | nindent 2 }}
{{- with .appArmor }}
appArmorProfile:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Resources with GPUs added. Call with (dict "resources" <map> "gpus" <int>). */}}
{{- define "sentra.gpuResources" -}}
{{- $r := deepCopy (.resources | default dict) }}
{{- if gt (int .gpus) 0 }}
{{- $limits := merge (dict "nvidia.com/gpu" (int .gpus)) ($r.limits | default dict) }}
{{- $requests := merge (dict "nvidia.com/gpu" (int .gpus)) ($r.requests | default dict) }}
{{- $_ := set $r "limits" $limits }}
{{- $_ := set $r "requests" $requests }}
{{- end }}
{{- toYaml $r }}
{{- end }}
