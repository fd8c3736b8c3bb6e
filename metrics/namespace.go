package metrics

// Namespace is the first word of every metric name the exporter serves
// (smartassist_*, smartassist_exporter_*, smartassist_capacity_*). It is
// defined here, with the metric contract, and every package that registers
// a metric uses it.
const Namespace = "smartassist"

// namespace is Namespace in this package's metric options.
const namespace = Namespace
