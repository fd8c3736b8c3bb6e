// Package dashboards holds the Grafana dashboards, generated from
// src/*.ts by `npm run generate` (never edited by hand), and embeds them so
// that the exporter serves them at /dashboards/.
package dashboards

import "embed"

// Files are the dashboards, one JSON file each, ready to import.
//
//go:embed overview.json queues.json capacity.json customer-experience.json agents.json exporter.json live.json
var Files embed.FS
