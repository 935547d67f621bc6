{{/*
The migrate-db Job, shared by the Helm-rendered Job (migration.enabled) and the OpenShift Template migrate-db.
It runs once, before any pod of the new version starts: the tracking schema, then the auth schema (a separate
alembic chain that `mlflow db upgrade` does not touch). backoffLimit 0: a failed migration is never retried
blindly, because migrations are not guaranteed to be transactional.
Usage: include "mlflow.migrateJob" (dict "root" $ "name" "<job name>" "image" "<image>")
*/}}
{{- define "mlflow.migrateScript" -}}
set -eu
echo "migrate-db: tracking database $MLFLOW_BACKEND_STORE_URI on $PGHOST:$PGPORT"
if python -c 'import os, sqlalchemy as sa; raise SystemExit(len(sa.inspect(sa.create_engine(os.environ["MLFLOW_BACKEND_STORE_URI"])).get_table_names()) != 0)'; then
  # A new, empty database: `mlflow db upgrade` needs the initial tables, so create the schema the way the server
  # does on its first start. Any error in the check (e.g. no connection) takes the upgrade branch and fails there.
  echo "migrate-db: empty tracking database, creating the schema"
  python -c 'import os; from mlflow.store.db.utils import _initialize_tables, create_sqlalchemy_engine_with_retry as engine; _initialize_tables(engine(os.environ["MLFLOW_BACKEND_STORE_URI"]))'
else
  mlflow db upgrade "$MLFLOW_BACKEND_STORE_URI"
fi
if [ -z "$AUTH_DB_URI" ]; then
  # The auth database the server uses is the database_uri of basic-auth.ini; read it the way MLflow does.
  AUTH_DB_URI="$(python -c 'from mlflow.server.auth.config import read_auth_config; print(read_auth_config().database_uri)')"
fi
echo "migrate-db: auth database"
python -m mlflow.server.auth db upgrade --url "$AUTH_DB_URI"
echo "migrate-db: done"
{{- end -}}

{{- define "mlflow.migrateJob" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .name }}
  labels:
    {{- include "mlflow.baseLabels" $root | nindent 4 }}
    app.kubernetes.io/version: {{ include "mlflow.buildVersion" $root | quote }}
    app.kubernetes.io/component: migrate-db
spec:
  backoffLimit: 0
  activeDeadlineSeconds: {{ $v.migration.activeDeadlineSeconds }}
  ttlSecondsAfterFinished: {{ $v.migration.ttlSecondsAfterFinished }}
  template:
    metadata:
      labels:
        {{- include "mlflow.baseLabels" $root | nindent 8 }}
        app.kubernetes.io/component: migrate-db
    spec:
      restartPolicy: Never
      automountServiceAccountToken: false
      {{- with $v.mlflow.serviceAccountName }}
      serviceAccountName: {{ . }}
      {{- end }}
      securityContext:
        {{- toYaml $v.mlflow.podSecurityContext | nindent 8 }}
      containers:
        - name: migrate
          image: {{ .image | quote }}
          imagePullPolicy: {{ $v.mlflow.image.pullPolicy }}
          command:
            - /bin/sh
            - -c
            - |
              {{- include "mlflow.migrateScript" $root | nindent 14 }}
          env:
            - name: HOME
              value: /tmp
            {{- include "mlflow.databaseEnv" $root | nindent 12 }}
            - name: MLFLOW_AUTH_CONFIG_PATH
              value: {{ include "mlflow.authConfigPath" $root | quote }}
            - name: AUTH_DB_URI
              {{- if $v.migration.authDatabaseUri.secretName }}
              valueFrom:
                secretKeyRef:
                  name: {{ $v.migration.authDatabaseUri.secretName }}
                  key: {{ required "migration.authDatabaseUri.key is required with migration.authDatabaseUri.secretName" $v.migration.authDatabaseUri.key }}
              {{- else }}
              value: ""
              {{- end }}
          resources:
            {{- toYaml $v.migration.resources | nindent 12 }}
          securityContext:
            {{- toYaml $v.mlflow.securityContext | nindent 12 }}
          volumeMounts:
            - name: auth-config
              mountPath: /etc/mlflow/auth
              readOnly: true
            - name: tmp
              mountPath: /tmp
      volumes:
        {{- include "mlflow.authConfigVolume" $root | nindent 8 }}
        - name: tmp
          emptyDir: {}
{{- end -}}
