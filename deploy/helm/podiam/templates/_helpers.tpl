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
{{- $baseRoleArn := $server.roleBaseArn | default $a.baseRoleArn -}}
{{- if $baseRoleArn }}{{ $_ := set $flags "base-role-arn" $baseRoleArn }}{{ end -}}
{{- if $a.autoDiscoverBaseArn }}{{ $_ := set $flags "auto-discover-base-arn" true }}{{ end -}}
{{- if $a.defaultRole }}{{ $_ := set $flags "default-role" $a.defaultRole }}{{ end -}}
{{- if not $a.namespaceRestrictions }}{{ $_ := set $flags "namespace-restrictions" false }}{{ end -}}
{{- if ne $a.namespaceRestrictionFormat "glob" }}{{ $_ := set $flags "namespace-restriction-format" $a.namespaceRestrictionFormat }}{{ end -}}
{{- $assumeRole := $server.assumeRoleArn | default $a.assumeRole -}}
{{- if $assumeRole }}{{ $_ := set $flags "assume-role" $assumeRole }}{{ end -}}
{{- $region := $a.region -}}
{{- with $k2.aws }}{{ if .region }}{{ $region = .region }}{{ end }}{{ end -}}
{{- if $region }}{{ $_ := set $flags "region" $region }}{{ end -}}
{{- $duration := $server.sessionDuration | default $a.sessionDuration -}}
{{- if $duration }}{{ $_ := set $flags "session-duration" $duration }}{{ end -}}
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
{{- toYaml $out -}}
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
