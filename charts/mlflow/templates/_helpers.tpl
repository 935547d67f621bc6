{{/*
Names, labels, versions and images shared by the templates.
*/}}

{{/* Name of the Deployment, Service, Route/Ingress, ImageStream and BuildConfig. */}}
{{- define "mlflow.fullname" -}}
{{- default .Values.mlflow.name .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "mlflow.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Identify the release's objects. */}}
{{- define "mlflow.baseLabels" -}}
app.kubernetes.io/name: mlflow
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
Labels that never change for a release, used by the Deployment and Service selectors. The component keeps the
migrate Job's pods out of them: a running migration must not receive traffic or be counted as a server pod.
*/}}
{{- define "mlflow.selectorLabels" -}}
{{ include "mlflow.baseLabels" . }}
app.kubernetes.io/component: server
{{- end -}}

{{- define "mlflow.labels" -}}
{{ include "mlflow.baseLabels" . }}
app.kubernetes.io/version: {{ include "mlflow.version" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mlflow
helm.sh/chart: {{ include "mlflow.chart" . }}
{{- end -}}

{{/*
Normalise an MLflow version given as X.Y.Z or vX.Y.Z to X.Y.Z. The schema already restricts the values; this
check also covers renders that skip schema validation, because a bad tag would only show up later as a failed
build or pull. Usage: include "mlflow.normalizeVersion" (list "mlflow.image.tag" .Values.mlflow.image.tag)
*/}}
{{- define "mlflow.normalizeVersion" -}}
{{- $value := index . 0 -}}
{{- $tag := toString (index . 1) -}}
{{- if not (regexMatch "^v?[0-9]+\\.[0-9]+\\.[0-9]+$" $tag) -}}
{{- fail (printf "%s %q is not an MLflow version: use X.Y.Z or vX.Y.Z, e.g. 3.5.0" $value $tag) -}}
{{- end -}}
{{- trimPrefix "v" $tag -}}
{{- end -}}

{{/* Version the server runs (3.5.0). */}}
{{- define "mlflow.version" -}}
{{- include "mlflow.normalizeVersion" (list "mlflow.image.tag" .Values.mlflow.image.tag) -}}
{{- end -}}

{{/* Image tag as the official images spell it: v3.5.0. */}}
{{- define "mlflow.imageTag" -}}
{{- printf "v%s" (include "mlflow.version" .) -}}
{{- end -}}

{{/*
Version the BuildConfig builds and the migration runs: build.tag, or the served version. An upgrade builds and
migrates to build.tag while the Deployment still runs mlflow.image.tag.
*/}}
{{- define "mlflow.buildVersion" -}}
{{- if .Values.build.tag -}}
{{- include "mlflow.normalizeVersion" (list "build.tag" .Values.build.tag) -}}
{{- else -}}
{{- include "mlflow.version" . -}}
{{- end -}}
{{- end -}}

{{/*
"true" when the OpenShift API group-version in the second argument is to be used:
openshift.enabled auto asks .Capabilities.APIVersions, true/false force it.
Usage: include "mlflow.hasApi" (list $ "route.openshift.io/v1")
*/}}
{{- define "mlflow.hasApi" -}}
{{- $root := index . 0 -}}
{{- $api := index . 1 -}}
{{- $mode := toString $root.Values.openshift.enabled -}}
{{- if eq $mode "true" -}}
true
{{- else if and (eq $mode "auto") ($root.Capabilities.APIVersions.Has $api) -}}
true
{{- end -}}
{{- end -}}

{{/* "true" when the chart builds the image in the cluster (ImageStream + BuildConfig). */}}
{{- define "mlflow.buildsImage" -}}
{{- if and .Values.build.enabled (include "mlflow.hasApi" (list . "build.openshift.io/v1")) (include "mlflow.hasApi" (list . "image.openshift.io/v1")) -}}
true
{{- end -}}
{{- end -}}

{{/*
Image of a given MLflow version: the internal registry's `<stream>:v<version>` when the chart builds the image;
otherwise the ready image `<mlflow.image.repository>:v<version>`, pinned to `@<digest>` when mlflow.image.digests
has the version. Every image the release runs comes from here: the server's (mlflow.image.tag), the migrate Job's
(buildVersion) and, through the tag the automation sets, the one of a rollback or a recovery.
Usage: include "mlflow.imageFor" (list $ "3.5.0")
*/}}
{{- define "mlflow.imageFor" -}}
{{- $root := index . 0 -}}
{{- $version := index . 1 -}}
{{- $tag := printf "v%s" $version -}}
{{- if include "mlflow.buildsImage" $root -}}
{{- printf "%s/%s/%s:%s" $root.Values.build.internalRegistry $root.Release.Namespace (include "mlflow.fullname" $root) $tag -}}
{{- else -}}
{{- $digest := index ($root.Values.mlflow.image.digests | default dict) $version | default "" -}}
{{- printf "%s:%s%s" $root.Values.mlflow.image.repository $tag (ternary (printf "@%s" $digest) "" (ne $digest "")) -}}
{{- end -}}
{{- end -}}

{{/*
Image of the server. Set explicitly by Helm on the Deployment (no image trigger), so a newly built tag never
rolls pods before the migration has run.
*/}}
{{- define "mlflow.image" -}}
{{- include "mlflow.imageFor" (list . (include "mlflow.version" .)) -}}
{{- end -}}

{{/* Image of the migrate Job: migration.image, or the image of the version being built (build.tag). */}}
{{- define "mlflow.migrationImage" -}}
{{- default (include "mlflow.imageFor" (list . (include "mlflow.buildVersion" .))) .Values.migration.image -}}
{{- end -}}

{{/* "true" when a Route is rendered. */}}
{{- define "mlflow.routeEnabled" -}}
{{- if and .Values.route.enabled (include "mlflow.hasApi" (list . "route.openshift.io/v1")) -}}
true
{{- end -}}
{{- end -}}

{{/* Host of the Route: route.host, or the one OpenShift would generate (<name>-<namespace>.<appsDomain>). */}}
{{- define "mlflow.routeHost" -}}
{{- if .Values.route.host -}}
{{- .Values.route.host -}}
{{- else if .Values.route.appsDomain -}}
{{- printf "%s-%s.%s" (include "mlflow.fullname" .) .Release.Namespace .Values.route.appsDomain -}}
{{- else -}}
{{- fail "route.host or route.appsDomain is needed: the Route host must be known to add it to the server's --allowed-hosts (requests with an unlisted Host header get 403)" -}}
{{- end -}}
{{- end -}}

{{/*
--allowed-hosts: Host headers MLflow (>= 3.5) accepts. Requests through the Route carry its host (port 443
implied), in-cluster clients use the Service names with its port, port-forwards use localhost. /health is exempt.
*/}}
{{- define "mlflow.allowedHosts" -}}
{{- $name := include "mlflow.fullname" . -}}
{{- $ns := .Release.Namespace -}}
{{- $port := toString .Values.service.port -}}
{{- $hosts := list -}}
{{- if include "mlflow.routeEnabled" . -}}
{{- $hosts = append $hosts (include "mlflow.routeHost" .) -}}
{{- end -}}
{{- if .Values.ingress.enabled -}}
{{- $hosts = append $hosts .Values.ingress.host -}}
{{- end -}}
{{- range $base := list $name (printf "%s.%s" $name $ns) (printf "%s.%s.svc" $name $ns) (printf "%s.%s.svc.cluster.local" $name $ns) -}}
{{- $hosts = append $hosts $base -}}
{{- if ne $port "80" -}}
{{- $hosts = append $hosts (printf "%s:%s" $base $port) -}}
{{- end -}}
{{- end -}}
{{- $hosts = concat $hosts (list "localhost" "localhost:*" "127.0.0.1" "127.0.0.1:*") .Values.mlflow.allowedHosts -}}
{{- join "," (uniq $hosts) -}}
{{- end -}}

{{/* Name of the ObjectStore the cluster archives into. */}}
{{- define "mlflow.objectStoreName" -}}
{{- default (printf "%s-backups" (include "mlflow.fullname" .)) .Values.backup.objectStoreName -}}
{{- end -}}

{{/* "true" when the Cluster is bootstrapped from a backup. */}}
{{- define "mlflow.recovering" -}}
{{- if .Values.recovery.serverName -}}
true
{{- end -}}
{{- end -}}

{{/*
Secret with the app user's credentials. CNPG uses bootstrap.recovery.secret as the application secret when it is
set, and creates <cluster>-app otherwise.
*/}}
{{- define "mlflow.appSecretName" -}}
{{- if and (include "mlflow.recovering" .) .Values.recovery.secretName -}}
{{- .Values.recovery.secretName -}}
{{- else -}}
{{- printf "%s-app" .Values.postgresql.clusterName -}}
{{- end -}}
{{- end -}}

{{/*
Tracking backend URI. It carries no host or credentials: libpq takes them from PGHOST/PGPORT/PGUSER/PGPASSWORD
(mlflow.databaseEnv), so passwords with any characters work and nothing secret shows in the pod spec or logs.
*/}}
{{- define "mlflow.trackingUri" -}}
{{- printf "postgresql+psycopg2:///%s" .Values.postgresql.database -}}
{{- end -}}

{{/* Connection environment of the server and the migrate Job: the cluster's read-write Service + app user, unless
mlflow.database names another (a recovery to a past time keeps MLflow on the cluster it runs on while it restores). */}}
{{- define "mlflow.databaseEnv" -}}
- name: PGHOST
  value: {{ .Values.mlflow.database.host | default (printf "%s-rw" .Values.postgresql.clusterName) | quote }}
- name: PGPORT
  value: "5432"
- name: PGUSER
  valueFrom:
    secretKeyRef:
      name: {{ .Values.mlflow.database.secretName | default (include "mlflow.appSecretName" .) }}
      key: username
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.mlflow.database.secretName | default (include "mlflow.appSecretName" .) }}
      key: password
- name: MLFLOW_BACKEND_STORE_URI
  value: {{ include "mlflow.trackingUri" . | quote }}
{{- end -}}

{{/* basic-auth.ini as a file, and the variable MLflow reads its path from. */}}
{{- define "mlflow.authConfigPath" -}}
{{- printf "/etc/mlflow/auth/%s" .Values.mlflow.authConfig.key -}}
{{- end -}}

{{- define "mlflow.authConfigVolume" -}}
- name: auth-config
  secret:
    secretName: {{ .Values.mlflow.authConfig.secretName }}
    defaultMode: 0444
    items:
      - key: {{ .Values.mlflow.authConfig.key }}
        path: {{ .Values.mlflow.authConfig.key }}
{{- end -}}

{{/*
Checksum on the pod template: changes when (and only when) the mounted configuration changes. The chart cannot
read pre-existing Secrets at render time, so the automation passes the sha256 of their content as values.
*/}}
{{- define "mlflow.configChecksum" -}}
{{- dict "authConfig" .Values.mlflow.authConfigChecksum "extraConfig" .Values.mlflow.extraConfigChecksum "authConfigSecret" .Values.mlflow.authConfig | toJson | sha256sum -}}
{{- end -}}
