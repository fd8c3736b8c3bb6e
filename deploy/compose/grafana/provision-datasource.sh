#!/bin/sh
# Writes Grafana's Prometheus datasource, then starts Grafana ("$@"). With
# SMARTASSIST_CONVERSATION_URL set (a link template holding
# {{conversation_id}}, the same value the exporter validates), the
# datasource gets an exemplar link: a dot on a duration graph opens that
# conversation. Grafana's own placeholder is ${__value.raw}; provisioning
# files expand $VARS from the environment, so it is written as $${...}.
set -eu
out=${GF_PATHS_PROVISIONING:-/etc/grafana/provisioning}/datasources/prometheus.yml
url=${SMARTASSIST_CONVERSATION_URL:-}
placeholder='{{conversation_id}}'
mkdir -p "$(dirname "$out")"
cat >"$out" <<'YAML'
apiVersion: 1
datasources:
  - name: Prometheus
    type: prometheus
    uid: prometheus
    access: proxy
    url: http://prometheus:9090
    isDefault: true
YAML
case $url in
"") ;;
*"$placeholder"*)
	before=${url%%"$placeholder"*}
	after=${url#*"$placeholder"}
	link="$before\$\${__value.raw}$after"
	# Single-quoted YAML: a quote in the URL is doubled.
	link=$(printf '%s' "$link" | sed "s/'/''/g")
	cat >>"$out" <<YAML
    jsonData:
      exemplarTraceIdDestinations:
        - name: conversation_id
          url: '$link'
          urlDisplayLabel: Open conversation
YAML
	;;
*)
	echo "SMARTASSIST_CONVERSATION_URL must hold $placeholder; exemplar links left out" >&2
	;;
esac
exec "$@"
