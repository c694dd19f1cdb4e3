{{/*
Object names: <fullname>-<name in config/>. With the release named
peering-operator they are the names `kubectl apply -k config/default` gives.
*/}}
{{- define "peering-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "peering-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := include "peering-operator.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "peering-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "peering-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The manager's pods; control-plane is the label config/ selects on. */}}
{{- define "peering-operator.selectorLabels" -}}
control-plane: controller-manager
app.kubernetes.io/name: {{ include "peering-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "peering-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-controller-manager" (include "peering-operator.fullname" .)) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required with serviceAccount.create=false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "peering-operator.webhookServiceName" -}}
{{ include "peering-operator.fullname" . }}-webhook-service
{{- end }}

{{- define "peering-operator.webhookSecretName" -}}
{{ include "peering-operator.fullname" . }}-webhook-server-cert
{{- end }}

{{- define "peering-operator.certificateName" -}}
{{ include "peering-operator.fullname" . }}-serving-cert
{{- end }}

{{/* DNS names the API server uses to reach the webhook Service. */}}
{{- define "peering-operator.webhookDNSNames" -}}
{{- $svc := include "peering-operator.webhookServiceName" . -}}
- {{ printf "%s.%s.svc" $svc .Release.Namespace }}
- {{ printf "%s.%s.svc.cluster.local" $svc .Release.Namespace }}
{{- end }}

{{- define "peering-operator.peeringdbSecretName" -}}
{{- if .Values.peeringdb.apiKey.existingSecret }}
{{- .Values.peeringdb.apiKey.existingSecret }}
{{- else if .Values.peeringdb.apiKey.value }}
{{- include "peering-operator.fullname" . }}-peeringdb-api-key
{{- end }}
{{- end }}

{{/*
The webhook serving certificate without cert-manager, generated once per
render and shared by the Secret and the webhook configurations' caBundle: a
dict {ca, crt, key}. An existing Secret is reused so an upgrade does not
change the CA under running pods.
*/}}
{{- define "peering-operator.selfSignedCert" -}}
{{- $secret := lookup "v1" "Secret" .Release.Namespace (include "peering-operator.webhookSecretName" .) }}
{{- if and $secret (index ($secret.data | default dict) "ca.crt") }}
{{- dict "ca" (index $secret.data "ca.crt" | b64dec) "crt" (index $secret.data "tls.crt" | b64dec) "key" (index $secret.data "tls.key" | b64dec) | toJson }}
{{- else }}
{{- $days := int .Values.webhook.selfSigned.validityDays }}
{{- $ca := genCA (printf "%s-webhook-ca" (include "peering-operator.fullname" .)) $days }}
{{- $dns := include "peering-operator.webhookDNSNames" . | fromYamlArray }}
{{- $cert := genSignedCert (first $dns) nil $dns $days $ca }}
{{- dict "ca" $ca.Cert "crt" $cert.Cert "key" $cert.Key | toJson }}
{{- end }}
{{- end }}
