{{/*
sentra.grpcService: everything one Sentra gRPC service needs, for every service alike —
ServiceAccount, Service, Deployment (native gRPC probes on grpc.health.v1, Kubernetes'
restricted securityContext, read-only root file system with /tmp on an emptyDir),
PodDisruptionBudget and HorizontalPodAutoscaler.

Call with a dict:
  root        the chart's root context ($)
  name        the service: gateway, ingestion, embedding, retrieval, inference, training
  env         extra container env entries (list of maps), after the shared ones
  volumes     extra pod volumes (list)
  mounts      extra volume mounts (list)
  ports       extra container/Service ports (list of {name, port})
  seccomp     the pod's seccomp profile (map); default RuntimeDefault
  appArmor    the pod's AppArmor profile (map); default none (the runtime's)
  hostUsers   optional bool (pod in a user namespace of its own when false)
  recreate    true for pods holding a ReadWriteOnce volume (no overlap during a rollout)
  maxReplicas optional hard cap (a service that must stay single)
*/}}
{{- define "sentra.grpcService" -}}
{{- $root := .root }}
{{- $name := .name }}
{{- $v := index $root.Values $name }}
{{- $prefix := printf "SENTRA_%s_" (upper $name) }}
{{- $fullname := include "sentra.componentName" (list $root $name) }}
{{- $signing := include "sentra.signingServices" $root | fromJsonArray }}
{{- $replicas := int $v.replicas }}
{{- if and .maxReplicas (gt $replicas (int .maxReplicas)) }}
{{- fail (printf "%s.replicas is %d but this configuration allows at most %d (%s)" $name $replicas (int .maxReplicas) (.maxReason | default "")) }}
{{- end }}
{{- $autoscale := and $v.autoscaling.enabled (not ($v.keda | default dict).enabled) }}
{{- if and .maxReplicas $v.autoscaling.enabled (gt (int $v.autoscaling.maxReplicas) (int .maxReplicas)) }}
{{- fail (printf "%s.autoscaling.maxReplicas is above %d (%s)" $name (int .maxReplicas) (.maxReason | default "")) }}
{{- end }}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "sentra.componentLabels" (list $root $name) | nindent 4 }}
# Sentra's services never call the Kubernetes API.
automountServiceAccountToken: false
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "sentra.componentLabels" (list $root $name) | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "sentra.selectorLabels" (list $root $name) | nindent 4 }}
  ports:
    - name: grpc
      port: {{ $root.Values.ports.grpc }}
      targetPort: grpc
      appProtocol: grpc
    - name: metrics
      port: {{ $root.Values.ports.metrics }}
      targetPort: metrics
    {{- range .ports }}
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ .name }}
    {{- end }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "sentra.componentLabels" (list $root $name) | nindent 4 }}
spec:
  {{- if not (or $autoscale ($v.keda | default dict).enabled) }}
  replicas: {{ $replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "sentra.selectorLabels" (list $root $name) | nindent 6 }}
  strategy:
    {{- if .recreate }}
    type: Recreate
    {{- else }}
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
    {{- end }}
  template:
    metadata:
      labels:
        {{- include "sentra.componentLabels" (list $root $name) | nindent 8 }}
        sentra.io/bus-client: "true"
      {{- with $v.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ $fullname }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      {{- if not (kindIs "invalid" .hostUsers) }}
      hostUsers: {{ .hostUsers }}
      {{- end }}
      securityContext:
        {{- include "sentra.podSecurityContext" (dict "root" $root "seccomp" .seccomp "appArmor" .appArmor) | nindent 8 }}
      {{- with $root.Values.image.pullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      # SIGTERM: NOT_SERVING first, then a graceful drain (sentra_common.runtime).
      terminationGracePeriodSeconds: 30
      containers:
        - name: {{ $name }}
          image: {{ include "sentra.serviceImage" (list $root $name) | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: ["-m", "sentra_{{ $name }}"]
          ports:
            - name: grpc
              containerPort: {{ $root.Values.ports.grpc }}
            - name: metrics
              containerPort: {{ $root.Values.ports.metrics }}
            {{- range .ports }}
            - name: {{ .name }}
              containerPort: {{ .port }}
            {{- end }}
          env:
            - name: {{ $prefix }}GRPC__HOST
              value: {{ $root.Values.bindAddress | quote }}
            - name: {{ $prefix }}GRPC__PORT
              value: {{ $root.Values.ports.grpc | quote }}
            - name: {{ $prefix }}TELEMETRY__METRICS_HOST
              value: {{ $root.Values.bindAddress | quote }}
            - name: {{ $prefix }}TELEMETRY__METRICS_PORT
              value: {{ $root.Values.ports.metrics | quote }}
            - name: {{ $prefix }}TELEMETRY__LOG_LEVEL
              value: {{ $root.Values.logLevel | quote }}
            {{- with $root.Values.tracing.otlpEndpoint }}
            - name: {{ $prefix }}TELEMETRY__OTLP_ENDPOINT
              value: {{ . | quote }}
            {{- end }}
            - name: {{ $prefix }}NATS__URL
              value: {{ include "sentra.natsUrl" $root | quote }}
            - name: {{ $prefix }}NATS__CREDENTIALS_FILE
              value: {{ printf "%s/%s.json" (include "sentra.paths.bus" $root) $name | quote }}
            - name: {{ $prefix }}IDENTITY__TRUST_FILE
              value: {{ printf "%s/trust.json" (include "sentra.paths.identity" $root) | quote }}
            {{- if has $name $signing }}
            - name: {{ $prefix }}IDENTITY__SIGNING_KEY_FILE
              value: {{ printf "%s/%s" (include "sentra.paths.identity" $root) (include "sentra.signingKeyFile" $name) | quote }}
            {{- end }}
            {{- with .env }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- range $key, $value := $v.settings }}
            - name: {{ printf "%s%s" $prefix $key }}
              value: {{ $value | toString | quote }}
            {{- end }}
          startupProbe:
            grpc:
              port: {{ $root.Values.ports.grpc }}
            periodSeconds: 5
            timeoutSeconds: 3
            # Up to 10 minutes to load models and reach the bus before liveness takes over.
            failureThreshold: 120
          readinessProbe:
            grpc:
              port: {{ $root.Values.ports.grpc }}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          livenessProbe:
            grpc:
              port: {{ $root.Values.ports.grpc }}
            periodSeconds: 20
            timeoutSeconds: 5
            failureThreshold: 6
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- include "sentra.containerSecurityContext" $root | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            - name: identity
              mountPath: {{ include "sentra.paths.identity" $root }}
              readOnly: true
            - name: bus
              mountPath: {{ include "sentra.paths.bus" $root }}
              readOnly: true
            {{- with .mounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        # HOME and TMPDIR of the images point here: the root file system stays read-only.
        - name: tmp
          emptyDir:
            sizeLimit: 1Gi
        - name: identity
          secret:
            secretName: {{ include "sentra.identitySecret" $root }}
            defaultMode: 0440
            items:
              - key: trust.json
                path: trust.json
              {{- if has $name $signing }}
              - key: {{ include "sentra.signingKeyFile" $name }}
                path: {{ include "sentra.signingKeyFile" $name }}
              {{- end }}
        - name: bus
          secret:
            secretName: {{ include "sentra.busSecret" $root }}
            defaultMode: 0440
            items:
              - key: {{ $name }}.json
                path: {{ $name }}.json
        {{- with .volumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "sentra.selectorLabels" (list $root $name) | nindent 14 }}
{{- if $v.pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "sentra.componentLabels" (list $root $name) | nindent 4 }}
spec:
  maxUnavailable: {{ $v.pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "sentra.selectorLabels" (list $root $name) | nindent 6 }}
{{- end }}
{{- if $autoscale }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "sentra.componentLabels" (list $root $name) | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $fullname }}
  minReplicas: {{ $v.autoscaling.minReplicas }}
  maxReplicas: {{ $v.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $v.autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
{{- end }}
