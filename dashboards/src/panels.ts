// Shared building blocks of the smartassist_exporter dashboards: the
// variables every dashboard has, label selectors, and panel helpers that
// force a unit and a description on every panel.
import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  CustomVariableBuilder,
  DashboardBuilder,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as BarGaugeBuilder } from '@grafana/grafana-foundation-sdk/bargauge';
import { PanelBuilder as HeatmapBuilder, YAxisConfigBuilder } from '@grafana/grafana-foundation-sdk/heatmap';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

export const datasource: common.DataSourceRef = { type: 'prometheus', uid: '${datasource}' };

// Filters a dashboard offers beyond job and instance.
export type Filter = 'channel' | 'queue' | 'agent';

// sel is the label selector of a dashboard's variables, plus extra matchers.
export function sel(filters: Filter[], extra = ''): string {
  const m = ['job=~"$job"', 'instance=~"$instance"'];
  for (const f of filters) {
    m.push(`${f}=~"$${f}"`);
  }
  if (extra) m.push(extra);
  return m.join(', ');
}

function queryVariable(name: string, label: string, query: string, description: string): QueryVariableBuilder {
  return new QueryVariableBuilder(name)
    .label(label)
    .description(description)
    .datasource(datasource)
    .query(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*');
}

// base is a dashboard with the datasource, job and instance variables and
// the filters it asks for.
export function base(uid: string, title: string, description: string, filters: Filter[]): DashboardBuilder {
  const b = new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['smartassist', 'contact-center', 'generated'])
    .refresh('1m')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser')
    .editable()
    .withVariable(new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'))
    .withVariable(queryVariable('job', 'Job', 'label_values(smartassist_up, job)', 'Prometheus job scraping smartassist_exporter.'))
    .withVariable(
      queryVariable('instance', 'Instance', 'label_values(smartassist_up{job=~"$job"}, instance)',
        'The exporter instance: one per SmartAssist account.'),
    );
  if (filters.includes('channel')) {
    b.withVariable(queryVariable('channel', 'Channel',
      'label_values(smartassist_conversations_total{job=~"$job", instance=~"$instance"}, channel)',
      'SmartAssist channel (Voice, Web/Mobile Client, System Mail, ...).'));
  }
  if (filters.includes('queue')) {
    b.withVariable(queryVariable('queue', 'Queue',
      'label_values(smartassist_queue_entries_total{job=~"$job", instance=~"$instance"}, queue)',
      'Queue name (or id); "direct" for conversations given to an agent without a queue.'));
  }
  if (filters.includes('agent')) {
    b.withVariable(queryVariable('agent', 'Agent',
      'label_values(smartassist_agent_segments_total{job=~"$job", instance=~"$instance"}, agent)',
      'Agent id (only with SMARTASSIST_AGENT_METRICS=true).'));
  }
  return b;
}

export function slThreshold(): CustomVariableBuilder {
  return new CustomVariableBuilder('sl_threshold')
    .label('Service level threshold (s)')
    .description('Answered within this many seconds counts as in service level. Must be a bucket bound: 10, 20, 30 or 60.')
    .values('10,20,30,60')
    .current({ text: '20', value: '20' });
}

export function row(title: string): RowBuilder {
  return new RowBuilder(title);
}

export interface Target {
  expr: string;
  legend?: string;
}

// conversationHistogram matches a quantile or bucket query of a duration
// histogram whose observations carry {conversation_id} exemplars
// (SMARTASSIST_EXEMPLARS=true); the exporter's own histograms have none.
const conversationHistogram = /smartassist_(conversation_duration|first_response|interaction|hold|after_call_work|handle|queue_wait|consult)_seconds_bucket/;

// exemplarsFor says whether a target asks Prometheus for exemplars: a
// quantile of, or a heatmap of the buckets of, a conversation duration
// histogram, where a dot's value is on the panel's axis (not a ratio such
// as the service level). Grafana draws them as dots, linked to the
// conversation when the datasource has SMARTASSIST_CONVERSATION_URL as its
// exemplar link.
export function exemplarsFor(t: Target, heatmap = false): boolean {
  return conversationHistogram.test(t.expr) && (heatmap || t.expr.startsWith('histogram_quantile('));
}

function query(t: Target, i: number, format?: PromQueryFormat): DataqueryBuilder {
  const q = new DataqueryBuilder().expr(t.expr).refId(String.fromCharCode(65 + i)).datasource(datasource);
  if (t.legend) q.legendFormat(t.legend);
  if (format) q.format(format);
  return q;
}

export interface PanelSpec {
  title: string;
  description: string; // how it is computed, shown in the panel's (i)
  unit: string;
  targets: Target[];
  width?: number;
  height?: number;
}

// The builder methods every panel kind shares.
interface PanelHead<B> {
  title(t: string): B;
  description(d: string): B;
  unit(u: string): B;
  datasource(d: common.DataSourceRef): B;
  span(w: number): B;
  height(h: number): B;
}

// head sets what every panel has: title, description (required: it says
// how the panel is computed), unit, datasource and size.
function head<B extends PanelHead<B>>(b: B, p: PanelSpec, width: number, height: number): B {
  return b.title(p.title).description(p.description).unit(p.unit).datasource(datasource)
    .span(p.width ?? width).height(p.height ?? height);
}

export function timeseries(p: PanelSpec & { stacked?: boolean; min?: number; max?: number }): TimeseriesBuilder {
  const b = head(new TimeseriesBuilder(), p, 12, 8)
    .lineWidth(1)
    .fillOpacity(p.stacked ? 60 : 10)
    .legend(new common.VizLegendOptionsBuilder().displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom).showLegend(true));
  if (p.stacked) b.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  if (p.min !== undefined) b.min(p.min);
  if (p.max !== undefined) b.max(p.max);
  p.targets.forEach((t, i) => b.withTarget(exemplarsFor(t) ? query(t, i).exemplar(true) : query(t, i)));
  return b;
}

export function stat(p: PanelSpec & { thresholds?: [number, string][] }): StatBuilder {
  const b = head(new StatBuilder(), p, 4, 4)
    .graphMode(common.BigValueGraphMode.None)
    .colorMode(common.BigValueColorMode.Value)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
  if (p.thresholds) {
    b.thresholds(new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps(
      p.thresholds.map(([value, color], i) => ({ value: i === 0 ? null : value, color })) as dashboard.Threshold[]));
  }
  p.targets.forEach((t, i) => b.withTarget(query(t, i).instant()));
  return b;
}

export function bargauge(p: PanelSpec & { heatmapFormat?: boolean }): BarGaugeBuilder {
  const b = head(new BarGaugeBuilder(), p, 12, 8)
    .orientation(common.VizOrientation.Horizontal)
    .displayMode(common.BarGaugeDisplayMode.Gradient)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
  p.targets.forEach((t, i) => b.withTarget(query(t, i, p.heatmapFormat ? PromQueryFormat.Heatmap : undefined).instant()));
  return b;
}

// heatmap shows a classic histogram's buckets over time.
export function heatmap(p: PanelSpec): HeatmapBuilder {
  const b = head(new HeatmapBuilder(), p, 12, 8)
    .calculate(false)
    .yAxis(new YAxisConfigBuilder().unit(p.unit).axisPlacement(common.AxisPlacement.Left));
  p.targets.forEach((t, i) => {
    const q = query({ ...t, legend: t.legend ?? '{{le}}' }, i, PromQueryFormat.Heatmap);
    b.withTarget(exemplarsFor(t, true) ? q.exemplar(true) : q);
  });
  return b;
}
