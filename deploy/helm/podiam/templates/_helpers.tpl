{{/* Names, labels and the agent's effective settings (podiam values with the kube2iam and kiam
chart values folded in: docs/helm.md, "Values from kube2iam and kiam"). */}}

{{- define "podiam.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "podiam.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object. Call with (dict "root" $ "component" "agent"). */}}
{{- define "podiam.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{ include "podiam.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: podiam
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "podiam.selectorLabels" -}}
app.kubernetes.io/name: {{ include "podiam.name" .root }}-{{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The image of a component: (dict "root" $ "c" .Values.agent). */}}
{{- define "podiam.image" -}}
{{- $img := .c.image | default dict -}}
{{- $repo := $img.repository | default .root.Values.image.repository -}}
{{- $tag := $img.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- printf "%s:%s" $repo (toString $tag) -}}
{{- end -}}

{{- define "podiam.pullPolicy" -}}
{{- $img := .c.image | default dict -}}
{{- $img.pullPolicy | default .root.Values.image.pullPolicy -}}
{{- end -}}

{{/* imagePullSecrets: image.pullSecrets (kube2iam) and imagePullSecrets (kiam: a name or a list). */}}
{{- define "podiam.imagePullSecrets" -}}
{{- $names := list -}}
{{- range .Values.image.pullSecrets }}{{ $names = append $names . }}{{ end -}}
{{- $ips := .Values.imagePullSecrets -}}
{{- if kindIs "string" $ips }}{{ if $ips }}{{ $names = append $names $ips }}{{ end }}
{{- else }}{{ range $ips }}{{ if kindIs "map" . }}{{ $names = append $names .name }}{{ else }}{{ $names = append $names . }}{{ end }}{{ end }}{{ end -}}
{{- if $names }}
imagePullSecrets:
{{- range uniq $names }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "podiam.serviceAccountName" -}}
{{- $sa := .c.serviceAccount | default dict -}}
{{- $sa.name | default (printf "%s-%s" (include "podiam.fullname" .root) .component) -}}
{{- end -}}

{{/* The agent's effective settings as YAML; read with fromYaml. Later sources win: podiam's
agent.* values, then kiam's (agent.host, agent.prometheus, agent.log, server.*), then kube2iam's
top-level values (host, prometheus, verbose, aws, rbac, ...). Flags: a map of flag name to value
(true: bare flag; false: --flag=false; a list: the flag repeated). */}}
{{- define "podiam.agent" -}}
{{- $v := .Values -}}
{{- $a := $v.agent -}}
{{- $k2 := dict -}}
{{- range $key := list "host" "extraArgs" "extraEnv" "verbose" "aws" "existingSecret" "prometheus" "rbac" "podAnnotations" "podLabels" "nodeSelector" "tolerations" "affinity" "priorityClassName" "resources" "updateStrategy" "maxUnavailable" "livenessProbe" "readinessProbe" -}}
{{- if hasKey $v $key }}{{ $_ := set $k2 $key (index $v $key) }}{{ end -}}
{{- end -}}
{{- $host := deepCopy $a.host -}}
{{- range $key, $value := ($k2.host | default dict) }}{{ $_ := set $host $key $value }}{{ end -}}
{{- $flags := dict -}}
{{- if $host.iptables }}{{ $_ := set $flags "iptables" true }}{{ end -}}
{{- if $host.iptables }}{{ $_ := set $flags "host-interface" $host.interface }}{{ end -}}
{{- $_ := set $flags "listen" (printf "%s:%v" $host.ip $host.port) -}}
{{- if ne (toString $host.ip) "$(HOST_IP)" }}{{ $_ := set $flags "host-ip" $host.ip }}{{ end -}}
{{- if $host.iptablesRemoveOnShutdown }}{{ $_ := set $flags "iptables-remove-on-exit" true }}{{ end -}}
{{- if $host.ipv6 }}{{ $_ := set $flags "host-ipv6" $host.ipv6 }}{{ end -}}
{{- $metricsPort := $a.metrics.port -}}
{{- with $a.prometheus }}{{ if .port }}{{ $metricsPort = .port }}{{ end }}{{ end -}}
{{- with $k2.prometheus }}{{ if .metricsPort }}{{ $metricsPort = .metricsPort }}{{ end }}{{ end -}}
{{- $_ := set $flags "metrics-listen" (printf "0.0.0.0:%v" $metricsPort) -}}
{{- $server := $v.server | default dict -}}
{{- $serverMode := eq (include "podiam.agentServerMode" .) "true" -}}
{{- $baseRoleArn := $server.roleBaseArn | default $a.baseRoleArn -}}
{{- if $serverMode }}{{ $baseRoleArn = include "podiam.baseRoleArn" . }}{{ end -}}
{{- if $baseRoleArn }}{{ $_ := set $flags "base-role-arn" $baseRoleArn }}{{ end -}}
{{- if $a.autoDiscoverBaseArn }}{{ $_ := set $flags "auto-discover-base-arn" true }}{{ end -}}
{{- if $a.defaultRole }}{{ $_ := set $flags "default-role" $a.defaultRole }}{{ end -}}
{{- if not $a.namespaceRestrictions }}{{ $_ := set $flags "namespace-restrictions" false }}{{ end -}}
{{- if ne $a.namespaceRestrictionFormat "glob" }}{{ $_ := set $flags "namespace-restriction-format" $a.namespaceRestrictionFormat }}{{ end -}}
{{- $region := $a.region -}}
{{- with $k2.aws }}{{ if .region }}{{ $region = .region }}{{ end }}{{ end -}}
{{- if and $a.tlsSecret (not $serverMode) }}
{{- fail "agent.tlsSecret (kiam: the agent's client certificate for the server) is only used in server mode: enable server.enabled or agent.server.enabled, or remove it" }}
{{- end }}
{{- if $serverMode }}
{{- /* Server mode: the agent has no AWS identity; STS settings belong to the server. */}}
{{- range $name, $value := dict "agent.assumeRole" $a.assumeRole "agent.region (kube2iam: aws.region)" $region "agent.sessionDuration" $a.sessionDuration "existingSecret" ($k2.existingSecret | default "") }}
{{- if $value }}{{ fail (printf "%s is set, but in server mode (agent.server.enabled) the agent calls no AWS API and must have no AWS credentials or STS settings: set the server's (server.assumeRole, server.region, server.sessionDuration) or remove it (docs/helm.md, \"Server mode\")" $name) }}{{ end }}
{{- end }}
{{- range $a.extraEnv }}{{ if has .name (list "AWS_ACCESS_KEY_ID" "AWS_SECRET_ACCESS_KEY" "AWS_SESSION_TOKEN" "AWS_ROLE_ARN" "AWS_WEB_IDENTITY_TOKEN_FILE" "AWS_PROFILE" "AWS_SHARED_CREDENTIALS_FILE" "AWS_CONTAINER_CREDENTIALS_FULL_URI" "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") }}
{{- fail (printf "agent.extraEnv sets %s, but in server mode (agent.server.enabled) the agent must have no AWS credentials: remove it (docs/helm.md, \"Server mode\")" .name) }}
{{- end }}{{ end }}
{{- range $name, $_ := ($k2.extraEnv | default dict) }}{{ if hasPrefix "AWS_" $name }}{{ if not (has $name (list "AWS_REGION" "AWS_DEFAULT_REGION" "AWS_STS_REGIONAL_ENDPOINTS")) }}
{{- fail (printf "extraEnv sets %s, but in server mode (agent.server.enabled) the agent must have no AWS credentials: remove it" $name) }}
{{- end }}{{ end }}{{ end }}
{{- $_ := set $flags "server" (include "podiam.serverURLs" . | fromYamlArray) -}}
{{- $_ := set $flags "server-ca" "/var/run/secrets/podiam/server/ca.crt" -}}
{{- $_ := set $flags "server-token-file" "/var/run/secrets/podiam/server/token" -}}
{{- with $a.tlsSecret }}
{{- $_ := set $flags "server-cert" "/var/run/secrets/podiam/server/tls.crt" -}}
{{- $_ := set $flags "server-key" "/var/run/secrets/podiam/server/tls.key" -}}
{{- end }}
{{- if and $v.server.enabled $a.server.serviceDiscovery }}
{{- $_ := set $flags "server-service" (printf "%s/%s-server:https" .Release.Namespace (include "podiam.fullname" .)) -}}
{{- end }}
{{- else }}
{{- $assumeRole := $server.assumeRoleArn | default $a.assumeRole -}}
{{- if $assumeRole }}{{ $_ := set $flags "assume-role" $assumeRole }}{{ end -}}
{{- if $region }}{{ $_ := set $flags "region" $region }}{{ end -}}
{{- $duration := $server.sessionDuration | default $a.sessionDuration -}}
{{- if $duration }}{{ $_ := set $flags "session-duration" $duration }}{{ end -}}
{{- end }}
{{- if ne $a.sessionScope "pod" }}{{ $_ := set $flags "session-scope" $a.sessionScope }}{{ end -}}
{{- if $a.clusterName }}{{ $_ := set $flags "cluster-name" $a.clusterName }}{{ end -}}
{{- if $a.sessionTags }}{{ $_ := set $flags "session-tags" true }}{{ end -}}
{{- if $a.sourceIdentity }}{{ $_ := set $flags "source-identity" true }}{{ end -}}
{{- if ne $a.imdsv1 "allow" }}{{ $_ := set $flags "imdsv1" $a.imdsv1 }}{{ end -}}
{{- $cc := $a.containerCredentials -}}
{{- if not $cc.enabled }}{{ $_ := set $flags "container-credentials" false }}{{ end -}}
{{- if and $cc.enabled $cc.link }}{{ $_ := set $flags "container-credentials-link" $cc.link }}{{ end -}}
{{- if and $cc.enabled $cc.tokenAudiences }}{{ $_ := set $flags "token-audience" $cc.tokenAudiences }}{{ end -}}
{{- if and $cc.enabled $cc.clusterArn }}{{ $_ := set $flags "cluster-arn" $cc.clusterArn }}{{ end -}}
{{- $level := $a.log.level -}}
{{- if $k2.verbose }}{{ $level = "debug" }}{{ end -}}
{{- if ne $level "info" }}{{ $_ := set $flags "log-level" $level }}{{ end -}}
{{- if $a.log.jsonOutput }}{{ $_ := set $flags "log-format" "json" }}{{ end -}}
{{- if $a.whiteListRouteRegexp }}{{ $_ := set $flags "allow-route-regexp" $a.whiteListRouteRegexp }}{{ end -}}
{{- range $name, $value := $a.extraArgs }}{{ $_ := set $flags $name $value }}{{ end -}}
{{- range $name, $value := ($k2.extraArgs | default dict) }}{{ $_ := set $flags $name $value }}{{ end -}}
{{- if not (or (hasKey $flags "refresh-before") (hasKey $flags "session-refresh") (hasKey $flags "iam-role-session-ttl")) }}
{{- if regexMatch "^[0-9]+m$" (toString (index $flags "session-duration")) }}{{ if lt (trimSuffix "m" (toString (index $flags "session-duration")) | atoi) 50 }}
{{- fail (printf "session duration %s is too short for podiam: credentials are refreshed 30m before expiry and never served with under 15m left, so at least 50m (kiam's chart default server.sessionDuration is 15m: drop it or set 1h)" (index $flags "session-duration")) }}
{{- end }}{{ end }}
{{- end -}}
{{- $env := list -}}
{{- range $a.extraEnv }}{{ $env = append $env . }}{{ end -}}
{{- range $name, $value := ($k2.extraEnv | default dict) }}{{ $env = append $env (dict "name" $name "value" (toString $value)) }}{{ end -}}
{{- $out := dict "flags" $flags "env" $env "metricsPort" $metricsPort "port" $host.port -}}
{{- $sm := $v.serviceMonitor.enabled -}}
{{- with $a.prometheus }}{{ with .servicemonitor }}{{ if .enabled }}{{ $sm = true }}{{ end }}{{ end }}{{ end -}}
{{- with $k2.prometheus }}{{ with .serviceMonitor }}{{ if .enabled }}{{ $sm = true }}{{ end }}{{ end }}{{ end -}}
{{- $_ := set $out "serviceMonitor" $sm -}}
{{- $rbac := $a.rbac.create -}}
{{- with $v.rbac }}{{ if hasKey . "create" }}{{ $rbac = .create }}{{ end }}{{ end -}}
{{- $_ := set $out "rbac" $rbac -}}
{{- $saCreate := $a.serviceAccount.create -}}
{{- $saName := $a.serviceAccount.name | default (printf "%s-agent" (include "podiam.fullname" .)) -}}
{{- with $v.serviceAccounts }}{{ with .agent }}{{ if hasKey . "create" }}{{ $saCreate = .create }}{{ end }}{{ if .name }}{{ $saName = .name }}{{ end }}{{ end }}{{ end -}}
{{- with $v.rbac }}{{ if and (hasKey . "create") (not .create) .serviceAccountName }}{{ $saCreate = false }}{{ $saName = .serviceAccountName }}{{ end }}{{ end -}}
{{- $_ := set $out "serviceAccountCreate" $saCreate -}}
{{- $_ := set $out "serviceAccountName" $saName -}}
{{- range $key := list "podAnnotations" "podLabels" "nodeSelector" "tolerations" "affinity" "priorityClassName" "resources" "updateStrategy" "maxUnavailable" "livenessProbe" "readinessProbe" -}}
{{- $_ := set $out $key (index $a $key) -}}
{{- if hasKey $k2 $key }}{{ $_ := set $out $key (index $k2 $key) }}{{ end -}}
{{- end -}}
{{- range $probe := list "livenessProbe" "readinessProbe" -}}
{{- $p := deepCopy (index $a $probe) -}}
{{- range $key, $value := (index $k2 $probe | default dict) }}{{ $_ := set $p $key $value }}{{ end -}}
{{- $_ := set $out $probe $p -}}
{{- end -}}
{{- $scrape := true -}}
{{- with $a.prometheus }}{{ if hasKey . "scrape" }}{{ $scrape = .scrape }}{{ end }}{{ end -}}
{{- $_ := set $out "scrape" $scrape -}}
{{- $_ := set $out "existingSecret" ($k2.existingSecret | default "") -}}
{{- $_ := set $out "serverMode" $serverMode -}}
{{- toYaml $out -}}
{{- end -}}

{{/* Whether the agent runs in server mode: agent.server.enabled, or when that is null,
server.enabled. "true" or "false". */}}
{{- define "podiam.agentServerMode" -}}
{{- $s := .Values.agent.server | default dict -}}
{{- if kindIs "bool" $s.enabled }}{{ $s.enabled }}{{ else }}{{ .Values.server.enabled | default false }}{{ end -}}
{{- end -}}

{{/* The server Service's port (server.service.port; kiam: server.service.port). */}}
{{- define "podiam.serverServicePort" -}}
{{- $svc := .Values.server.service | default dict -}}
{{- $svc.port | default 8443 -}}
{{- end -}}

{{/* The base role ARN of the role decision in server mode, the same for the server and the
agents (they must agree, or the server answers 409 RoleMismatch): kiam's server.roleBaseArn,
then server.baseRoleArn, then agent.baseRoleArn. */}}
{{- define "podiam.baseRoleArn" -}}
{{- $s := .Values.server -}}
{{- $s.roleBaseArn | default $s.baseRoleArn | default .Values.agent.baseRoleArn | default "" -}}
{{- end -}}

{{/* The agents' server URLs as a YAML list: agent.server.urls, else this release's Service. */}}
{{- define "podiam.serverURLs" -}}
{{- $urls := .Values.agent.server.urls -}}
{{- if not $urls }}
{{- if not .Values.server.enabled }}
{{- fail "agent.server.enabled is on but server.enabled is off: set agent.server.urls to the podiam server's https URL(s), or enable the server in this release" }}
{{- end }}
{{- $urls = list (printf "https://%s-server.%s.svc:%v" (include "podiam.fullname" .) .Release.Namespace (include "podiam.serverServicePort" .)) }}
{{- end }}
{{- toYaml $urls -}}
{{- end -}}

{{/* Container args lines for (dict "flags" MAP "first" LIST): the flags named in first in that
order, then the others sorted by name. */}}
{{- define "podiam.args" -}}
{{- $ordered := list -}}
{{- range .first }}{{ if hasKey $.flags . }}{{ $ordered = append $ordered . }}{{ end }}{{ end -}}
{{- range $name, $_ := .flags }}{{ if not (has $name $.first) }}{{ $ordered = append $ordered $name }}{{ end }}{{ end -}}
{{- range $name := $ordered }}
{{- $value := index $.flags $name }}
{{- if kindIs "slice" $value }}
{{- range $value }}
- {{ printf "--%s=%v" $name . | quote }}
{{- end }}
{{- else if kindIs "bool" $value }}
{{- if $value }}
- --{{ $name }}
{{- else }}
- --{{ $name }}=false
{{- end }}
{{- else if eq (toString $value) "" }}
- --{{ $name }}
{{- else }}
- {{ printf "--%s=%v" $name $value | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* A probe's timing fields that are set (kube2iam and kiam name them like Kubernetes). */}}
{{- define "podiam.probeTimings" -}}
{{- range $key := list "initialDelaySeconds" "periodSeconds" "timeoutSeconds" "successThreshold" "failureThreshold" }}
{{- if hasKey $ $key }}
{{ $key }}: {{ index $ $key }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The server's effective settings as YAML; read with fromYaml. podiam's server.* values, then
kiam's chart names for the same settings (server.deployment.replicas, server.roleBaseArn,
server.assumeRoleArn, server.log, server.prometheus, server.tlsSecret, serviceAccounts.server,
...), which win. The role decision's settings are the agent's (agent.defaultRole,
agent.namespaceRestrictions, ...): the server and the agents must decide the same role. */}}
{{- define "podiam.server" -}}
{{- $v := .Values -}}
{{- $s := $v.server -}}
{{- $a := $v.agent -}}
{{- $name := printf "%s-server" (include "podiam.fullname" .) -}}
{{- $flags := dict "listen" (printf "0.0.0.0:%v" $s.port) -}}
{{- $metricsPort := $s.metricsPort -}}
{{- with $s.prometheus }}{{ if .port }}{{ $metricsPort = .port }}{{ end }}{{ end -}}
{{- $_ := set $flags "metrics-listen" (printf "0.0.0.0:%v" $metricsPort) -}}
{{- /* TLS: kiam's server.tlsSecret (keys cert, key, ca: kiam's mutual TLS, so --ca too), else
server.tls.existingSecret, else cert-manager's Secret. */}}
{{- $tlsSecret := "" -}}
{{- $certKey := "tls.crt" -}}
{{- $keyKey := "tls.key" -}}
{{- $caKey := "" -}}
{{- if $s.tlsSecret }}
{{- $names := $s.tlsCerts | default dict }}
{{- $tlsSecret = $s.tlsSecret }}{{ $certKey = $names.certFileName | default "cert" }}{{ $keyKey = $names.keyFileName | default "key" }}{{ $caKey = $names.caFileName | default "ca" }}
{{- else if $s.tls.existingSecret }}
{{- $tlsSecret = $s.tls.existingSecret }}
{{- else if $s.tls.certManager.enabled }}
{{- $tlsSecret = printf "%s-tls" $name }}
{{- else }}
{{- fail "server.enabled needs a serving certificate: set server.tls.existingSecret (a Secret with tls.crt and tls.key for NAME.NAMESPACE.svc) or server.tls.certManager.enabled=true with server.tls.certManager.issuerRef (kiam: server.tlsSecret)" }}
{{- end }}
{{- $_ := set $flags "cert" "/etc/podiam-server/tls/cert.pem" -}}
{{- $_ := set $flags "key" "/etc/podiam-server/tls/key.pem" -}}
{{- if $caKey }}{{ $_ := set $flags "ca" "/etc/podiam-server/tls/ca.pem" }}{{ end -}}
{{- $agentSA := (include "podiam.agent" . | fromYaml).serviceAccountName -}}
{{- $agentSAs := $s.agentServiceAccounts | default (list (printf "%s:%s" .Release.Namespace $agentSA)) -}}
{{- $_ := set $flags "agent-service-account" $agentSAs -}}
{{- if $s.allowUnboundAgents }}{{ $_ := set $flags "allow-unbound-agents" true }}{{ end -}}
{{- $base := include "podiam.baseRoleArn" . -}}
{{- if $base }}{{ $_ := set $flags "base-role-arn" $base }}{{ end -}}
{{- if $a.autoDiscoverBaseArn }}{{ $_ := set $flags "auto-discover-base-arn" true }}{{ end -}}
{{- if $a.defaultRole }}{{ $_ := set $flags "default-role" $a.defaultRole }}{{ end -}}
{{- if not $a.namespaceRestrictions }}{{ $_ := set $flags "namespace-restrictions" false }}{{ end -}}
{{- if ne $a.namespaceRestrictionFormat "glob" }}{{ $_ := set $flags "namespace-restriction-format" $a.namespaceRestrictionFormat }}{{ end -}}
{{- if ne $a.sessionScope "pod" }}{{ $_ := set $flags "session-scope" $a.sessionScope }}{{ end -}}
{{- if $a.clusterName }}{{ $_ := set $flags "cluster-name" $a.clusterName }}{{ end -}}
{{- if $a.sessionTags }}{{ $_ := set $flags "session-tags" true }}{{ end -}}
{{- if $a.sourceIdentity }}{{ $_ := set $flags "source-identity" true }}{{ end -}}
{{- $assumeRole := $s.assumeRoleArn | default $s.assumeRole -}}
{{- if $assumeRole }}{{ $_ := set $flags "assume-role" $assumeRole }}{{ end -}}
{{- if $s.region }}{{ $_ := set $flags "region" $s.region }}{{ end -}}
{{- if $s.sessionDuration }}{{ $_ := set $flags "session-duration" $s.sessionDuration }}{{ end -}}
{{- if $s.refreshBefore }}{{ $_ := set $flags "refresh-before" $s.refreshBefore }}{{ end -}}
{{- $level := $s.log.level | default "info" -}}
{{- if ne $level "info" }}{{ $_ := set $flags "log-level" $level }}{{ end -}}
{{- if $s.log.jsonOutput }}{{ $_ := set $flags "log-format" "json" }}{{ end -}}
{{- range $k, $val := $s.extraArgs }}{{ $_ := set $flags $k $val }}{{ end -}}
{{- if not (or (hasKey $flags "refresh-before") (hasKey $flags "session-refresh")) }}
{{- if regexMatch "^[0-9]+m$" (toString (index $flags "session-duration")) }}{{ if lt (trimSuffix "m" (toString (index $flags "session-duration")) | atoi) 50 }}
{{- fail (printf "server session duration %s is too short for podiam: credentials are refreshed 30m before expiry and never served with under 15m left, so at least 50m (kiam's chart default server.sessionDuration is 15m: drop it or set 1h)" (index $flags "session-duration")) }}
{{- end }}{{ end }}
{{- end -}}
{{- $replicas := $s.replicas -}}
{{- with $s.deployment }}{{ if .replicas }}{{ $replicas = .replicas }}{{ end }}{{ end -}}
{{- $saCreate := $s.serviceAccount.create -}}
{{- $saName := $s.serviceAccount.name | default $name -}}
{{- $saAnnotations := $s.serviceAccount.annotations -}}
{{- with $v.serviceAccounts }}{{ with .server }}{{ if hasKey . "create" }}{{ $saCreate = .create }}{{ end }}{{ if .name }}{{ $saName = .name }}{{ end }}{{ with .annotations }}{{ $saAnnotations = . }}{{ end }}{{ end }}{{ end -}}
{{- $rbac := $s.rbac.create -}}
{{- with $v.rbac }}{{ if hasKey . "create" }}{{ $rbac = .create }}{{ end }}{{ end -}}
{{- $scrape := $s.scrapeAnnotations -}}
{{- with $s.prometheus }}{{ if hasKey . "scrape" }}{{ $scrape = .scrape }}{{ end }}{{ end -}}
{{- $sm := $v.serviceMonitor.enabled -}}
{{- with $s.prometheus }}{{ with .servicemonitor }}{{ if .enabled }}{{ $sm = true }}{{ end }}{{ end }}{{ end -}}
{{- $svc := $s.service | default dict -}}
{{- /* Sharded prefetch (docs/server.md, "High availability and sharding"): peers are reached at
https://$POD_IP:<port> and serve the Service name's certificate; they authenticate with a
projected token of the server's ServiceAccount. */}}
{{- $peerCA := "" -}}
{{- if $s.sharding.enabled }}
{{- if not (hasKey $flags "peer-tls-server-name") }}{{ $_ := set $flags "peer-tls-server-name" (printf "%s.%s.svc" $name .Release.Namespace) }}{{ end -}}
{{- if not (hasKey $flags "peer-token-file") }}{{ $_ := set $flags "peer-token-file" "/var/run/secrets/podiam/peer/token" }}{{ end -}}
{{- if not (hasKey $flags "peer-service-account") }}{{ $_ := set $flags "peer-service-account" (printf "%s:%s" .Release.Namespace $saName) }}{{ end -}}
{{- if and (not $caKey) (not (hasKey $flags "peer-ca")) (or $s.tls.caBundle $s.tls.caConfigMap) }}
{{- $peerCA = $s.tls.caConfigMap | default (printf "%s-server-ca" (include "podiam.fullname" .)) -}}
{{- $_ := set $flags "peer-ca" "/etc/podiam-server/ca/ca.crt" -}}
{{- end }}
{{- else }}
{{- $_ := set $flags "sharding" "off" -}}
{{- end }}
{{- $out := dict "name" $name "flags" $flags "metricsPort" $metricsPort "replicas" $replicas "tlsSecret" $tlsSecret "certKey" $certKey "keyKey" $keyKey "caKey" $caKey -}}
{{- $_ := set $out "serviceAccountCreate" $saCreate -}}
{{- $_ := set $out "peerCAConfigMap" $peerCA -}}
{{- $_ := set $out "serviceAccountName" $saName -}}
{{- $_ := set $out "serviceAccountAnnotations" ($saAnnotations | default dict) -}}
{{- $_ := set $out "rbac" $rbac -}}
{{- $_ := set $out "scrape" $scrape -}}
{{- $_ := set $out "serviceMonitor" $sm -}}
{{- $_ := set $out "servicePort" (include "podiam.serverServicePort" . | atoi) -}}
{{- $_ := set $out "serviceAnnotations" (merge (dict) ($s.serviceAnnotations | default dict) ($svc.annotations | default dict)) -}}
{{- $_ := set $out "serviceLabels" (merge (dict) ($s.serviceLabels | default dict) ($svc.labels | default dict)) -}}
{{- toYaml $out -}}
{{- end -}}
