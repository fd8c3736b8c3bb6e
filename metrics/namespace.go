package metrics

import "github.com/smartassist-exporter/smartassist_exporter/naming"

// namespace is naming.Namespace in this package's metric options.
const namespace = naming.Namespace
