// The dashboards of smartassist_exporter, built on the metric contract
// (METRICS.md) and the recording rules in deploy/prometheus.
import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { bargauge, base, heatmap, row, sel, slThreshold, stat, timeseries } from './panels.js';

const R = '$__rate_interval';
const RANGE = '$__range';

function overview(): DashboardBuilder {
  const f = sel(['channel']);
  const fq = sel(['channel', 'queue']);
  return base('smartassist-overview', 'SmartAssist / Contact center overview',
    'Volumes, service level, speed of answer, handle time, abandonment and customer satisfaction across the contact center.',
    ['channel', 'queue'])
    .withVariable(slThreshold())
    .withRow(row('Now (over the selected time range)'))
    .withPanel(stat({
      title: 'Service level', unit: 'percentunit', width: 4,
      description: 'Share of queue entries answered within $sl_threshold s over the time range: answered entries with queue wait <= threshold / all queue entries (abandoned ones count as missed).',
      targets: [{ expr: `sum(increase(smartassist_queue_wait_seconds_bucket{${fq}, outcome="answered", le=~"$sl_threshold(.0)?"}[${RANGE}])) / sum(increase(smartassist_queue_entries_total{${fq}}[${RANGE}]))` }],
      thresholds: [[0, 'red'], [0.7, 'orange'], [0.8, 'green']],
    }))
    .withPanel(stat({
      title: 'ASA', unit: 's', width: 4,
      description: 'Average speed of answer: mean queue wait of answered queue entries (acceptedTime - EnterTime).',
      targets: [{ expr: `sum(increase(smartassist_queue_wait_seconds_sum{${fq}, outcome="answered"}[${RANGE}])) / sum(increase(smartassist_queue_wait_seconds_count{${fq}, outcome="answered"}[${RANGE}]))` }],
    }))
    .withPanel(stat({
      title: 'AHT', unit: 's', width: 4,
      description: 'Average handle time per agent segment: interaction (hold included) + after-call work.',
      targets: [{ expr: `sum(increase(smartassist_handle_seconds_sum{${fq}}[${RANGE}])) / sum(increase(smartassist_handle_seconds_count{${fq}}[${RANGE}]))` }],
    }))
    .withPanel(stat({
      title: 'Abandonment rate', unit: 'percentunit', width: 4,
      description: 'Queue entries abandoned (no agent answered, none later) / all queue entries.',
      targets: [{ expr: `sum(increase(smartassist_queue_entries_total{${fq}, outcome="abandoned"}[${RANGE}])) / sum(increase(smartassist_queue_entries_total{${fq}}[${RANGE}]))` }],
      thresholds: [[0, 'green'], [0.05, 'orange'], [0.1, 'red']],
    }))
    .withPanel(stat({
      title: 'Bot containment', unit: 'percentunit', width: 4,
      description: 'Conversations resolved by the bot (finalStatus BotResolved) / all finished conversations.',
      targets: [{ expr: `sum(increase(smartassist_conversations_total{${f}, status="BotResolved"}[${RANGE}])) / sum(increase(smartassist_conversations_total{${f}}[${RANGE}]))` }],
    }))
    .withPanel(stat({
      title: 'Conversations', unit: 'short', width: 4,
      description: 'Finished conversations counted over the time range, all channels selected.',
      targets: [{ expr: `sum(increase(smartassist_conversations_total{${f}}[${RANGE}]))` }],
    }))
    .withPanel(stat({
      title: 'CSAT satisfied', unit: 'percentunit', width: 4,
      description: 'Share of CSAT survey scores of 4 or 5: 1 - (scores <= 3) / all scores.',
      targets: [{ expr: `1 - sum(increase(smartassist_csat_score_bucket{${f}, le=~"3(.0)?"}[${RANGE}])) / sum(increase(smartassist_csat_score_count{${f}}[${RANGE}]))` }],
    }))
    .withPanel(stat({
      title: 'CSAT mean', unit: 'short', width: 4,
      description: 'Mean CSAT survey score (1-5): sum of scores / number of surveys.',
      targets: [{ expr: `sum(increase(smartassist_csat_score_sum{${f}}[${RANGE}])) / sum(increase(smartassist_csat_score_count{${f}}[${RANGE}]))` }],
    }))
    .withPanel(stat({
      title: 'NPS', unit: 'none', width: 4,
      description: 'Net Promoter Score in points: % promoters (9-10) - % detractors (0-6) of NPS surveys.',
      targets: [{ expr: `100 * (sum(increase(smartassist_nps_score_count{${f}}[${RANGE}])) - sum(increase(smartassist_nps_score_bucket{${f}, le=~"8(.0)?"}[${RANGE}])) - sum(increase(smartassist_nps_score_bucket{${f}, le=~"6(.0)?"}[${RANGE}]))) / sum(increase(smartassist_nps_score_count{${f}}[${RANGE}]))` }],
    }))
    .withPanel(stat({
      title: 'Open conversations', unit: 'short', width: 4,
      description: 'Conversations the API lists as not finished yet, started within the lookback (refreshed every poll).',
      targets: [{ expr: `sum(smartassist_open_conversations{${f}})` }],
    }))
    .withPanel(stat({
      title: 'First response p50', unit: 's', width: 4,
      description: 'Median time from an agent accepting a conversation to their first response.',
      targets: [{ expr: `histogram_quantile(0.5, sum by (le) (increase(smartassist_first_response_seconds_bucket{${fq}}[${RANGE}])))` }],
    }))
    .withPanel(stat({
      title: 'First response p90', unit: 's', width: 4,
      description: '90th percentile of the time from an agent accepting a conversation to their first response.',
      targets: [{ expr: `histogram_quantile(0.9, sum by (le) (increase(smartassist_first_response_seconds_bucket{${fq}}[${RANGE}])))` }],
    }))
    .withRow(row('Over time'))
    .withPanel(timeseries({
      title: 'Conversations per hour by channel and direction', unit: 'short', stacked: true,
      description: 'Finished conversations per hour (rate of smartassist_conversations_total x 3600), by channel and direction.',
      targets: [{ expr: `sum by (channel, direction) (rate(smartassist_conversations_total{${f}}[${R}])) * 3600`, legend: '{{channel}} {{direction}}' }],
    }))
    .withPanel(timeseries({
      title: 'Service level and abandonment', unit: 'percentunit', min: 0, max: 1,
      description: 'Service level: entries answered within $sl_threshold s / all entries. Abandonment: abandoned entries / all entries.',
      targets: [
        { expr: `sum(rate(smartassist_queue_wait_seconds_bucket{${fq}, outcome="answered", le=~"$sl_threshold(.0)?"}[${R}])) / sum(rate(smartassist_queue_entries_total{${fq}}[${R}]))`, legend: 'service level' },
        { expr: `sum(rate(smartassist_queue_entries_total{${fq}, outcome="abandoned"}[${R}])) / sum(rate(smartassist_queue_entries_total{${fq}}[${R}]))`, legend: 'abandonment' },
      ],
    }))
    .withPanel(timeseries({
      title: 'First response p50 / p90', unit: 's',
      description: 'Quantiles of firstResponseDuration over answered agent segments, from the histogram buckets.',
      targets: [
        { expr: `histogram_quantile(0.5, sum by (le) (rate(smartassist_first_response_seconds_bucket{${fq}}[${R}])))`, legend: 'p50' },
        { expr: `histogram_quantile(0.9, sum by (le) (rate(smartassist_first_response_seconds_bucket{${fq}}[${R}])))`, legend: 'p90' },
      ],
    }))
    .withPanel(timeseries({
      title: 'ASA and AHT', unit: 's',
      description: 'ASA: mean queue wait of answered entries. AHT: mean handle time (interaction + after-call work) of agent segments.',
      targets: [
        { expr: `sum(rate(smartassist_queue_wait_seconds_sum{${fq}, outcome="answered"}[${R}])) / sum(rate(smartassist_queue_wait_seconds_count{${fq}, outcome="answered"}[${R}]))`, legend: 'ASA' },
        { expr: `sum(rate(smartassist_handle_seconds_sum{${fq}}[${R}])) / sum(rate(smartassist_handle_seconds_count{${fq}}[${R}]))`, legend: 'AHT' },
      ],
    }))
    .withPanel(bargauge({
      title: 'Top dispositions', unit: 'short', width: 12,
      description: 'The ten most frequent dispositions over the time range (values past SMARTASSIST_MAX_DISPOSITIONS show as "other").',
      targets: [{ expr: `topk(10, sum by (disposition) (increase(smartassist_dispositions_total{${f}}[${RANGE}])))`, legend: '{{disposition}}' }],
    }))
    .withPanel(timeseries({
      title: 'Open conversations by channel', unit: 'short',
      description: 'Conversations listed as still open by the API, per channel (snapshot each poll).',
      targets: [{ expr: `sum by (channel) (smartassist_open_conversations{${f}})`, legend: '{{channel}}' }],
    }));
}

function queues(): DashboardBuilder {
  const fq = sel(['channel', 'queue']);
  return base('smartassist-queues', 'SmartAssist / Queues',
    'Per-queue volume, service level, wait and handle time distributions, abandonment, reassignments and callbacks.',
    ['channel', 'queue'])
    .withVariable(slThreshold())
    .withPanel(timeseries({
      title: 'Queue entries per hour', unit: 'short', stacked: true,
      description: 'Conversations entering each queue per hour (all outcomes).',
      targets: [{ expr: `sum by (queue) (rate(smartassist_queue_entries_total{${fq}}[${R}])) * 3600`, legend: '{{queue}}' }],
    }))
    .withPanel(timeseries({
      title: 'Service level by queue', unit: 'percentunit', min: 0, max: 1,
      description: 'Entries answered within $sl_threshold s / all entries, per queue.',
      targets: [{ expr: `sum by (queue) (rate(smartassist_queue_wait_seconds_bucket{${fq}, outcome="answered", le=~"$sl_threshold(.0)?"}[${R}])) / sum by (queue) (rate(smartassist_queue_entries_total{${fq}}[${R}]))`, legend: '{{queue}}' }],
    }))
    .withPanel(heatmap({
      title: 'Queue wait distribution (answered)', unit: 's',
      description: 'Heatmap of the queue wait of answered entries (acceptedTime - EnterTime), from the histogram buckets.',
      targets: [{ expr: `sum by (le) (increase(smartassist_queue_wait_seconds_bucket{${fq}, outcome="answered"}[${R}]))` }],
    }))
    .withPanel(heatmap({
      title: 'Handle time distribution', unit: 's',
      description: 'Heatmap of handle time per agent segment (interaction + after-call work), from the histogram buckets.',
      targets: [{ expr: `sum by (le) (increase(smartassist_handle_seconds_bucket{${fq}}[${R}]))` }],
    }))
    .withPanel(timeseries({
      title: 'ASA by queue', unit: 's',
      description: 'Average speed of answer per queue (recording rule smartassist:asa_seconds:rate5m, weighted across channels).',
      targets: [{ expr: `sum by (queue) (rate(smartassist_queue_wait_seconds_sum{${fq}, outcome="answered"}[${R}])) / sum by (queue) (rate(smartassist_queue_wait_seconds_count{${fq}, outcome="answered"}[${R}]))`, legend: '{{queue}}' }],
    }))
    .withPanel(timeseries({
      title: 'AHT by queue', unit: 's',
      description: 'Average handle time per queue (recording rule smartassist:aht_seconds:rate5m).',
      targets: [{ expr: `avg by (queue) (smartassist:aht_seconds:rate5m{${fq}})`, legend: '{{queue}}' }],
    }))
    .withPanel(timeseries({
      title: 'Abandonment rate by queue', unit: 'percentunit', min: 0,
      description: 'Abandoned entries / all entries, per queue (recording rule smartassist:abandonment:ratio_rate5m).',
      targets: [{ expr: `avg by (queue) (smartassist:abandonment:ratio_rate5m{${fq}})`, legend: '{{queue}}' }],
    }))
    .withPanel(timeseries({
      title: 'Reassignments per hour', unit: 'short',
      description: 'Queue entries whose offered agents did not answer and that a direct agent took later (outcome reassigned), per hour.',
      targets: [{ expr: `sum by (queue) (rate(smartassist_queue_entries_total{${fq}, outcome="reassigned"}[${R}])) * 3600`, legend: '{{queue}}' }],
    }))
    .withPanel(timeseries({
      title: 'Callbacks per hour', unit: 'short',
      description: 'Queue entries in which the customer opted for a callback (CallbackOpted), per hour.',
      targets: [{ expr: `sum by (queue) (rate(smartassist_callbacks_total{${fq}}[${R}])) * 3600`, legend: '{{queue}}' }],
    }))
    .withPanel(timeseries({
      title: 'Offers to agents by outcome', unit: 'short', stacked: true,
      description: 'Offers of conversations to agents per hour: answered segments, and non-responding agents by nonResponseEvent.',
      targets: [{ expr: `sum by (outcome) (rate(smartassist_agent_offers_total{${fq}}[${R}])) * 3600`, legend: '{{outcome}}' }],
    }));
}

function capacity(): DashboardBuilder {
  const f = sel(['channel']);
  const fq = sel(['channel', 'queue']);
  // The capacity gauges are per queue across channels.
  const CQ = sel(['queue']);
  return base('smartassist-capacity', 'SmartAssist / Capacity planning',
    'Arrivals, offered load in Erlangs and handle time: the inputs of a staffing model (e.g. Erlang C).',
    ['channel', 'queue'])
    .withVariable(slThreshold())
    .withPanel(timeseries({
      title: 'Arrivals per hour by channel (vs. same time last week)', unit: 'short',
      description: 'Finished conversations per hour by channel; dashed: the same hour one week earlier (offset 1w).',
      targets: [
        { expr: `sum by (channel) (rate(smartassist_conversations_total{${f}}[1h])) * 3600`, legend: '{{channel}}' },
        { expr: `sum by (channel) (rate(smartassist_conversations_total{${f}}[1h] offset 1w)) * 3600`, legend: '{{channel}} last week' },
      ],
    }))
    .withPanel(timeseries({
      title: 'Queue arrivals per hour by queue (vs. same time last week)', unit: 'short',
      description: 'Conversations entering each queue per hour; the second series is the same hour one week earlier.',
      targets: [
        { expr: `sum by (queue) (rate(smartassist_queue_entries_total{${fq}}[1h])) * 3600`, legend: '{{queue}}' },
        { expr: `sum by (queue) (rate(smartassist_queue_entries_total{${fq}}[1h] offset 1w)) * 3600`, legend: '{{queue}} last week' },
      ],
    }))
    .withPanel(timeseries({
      title: 'Offered load (Erlangs) by queue', unit: 'none', stacked: true,
      description: 'Offered load = arrivals per second x AHT, per queue (recording rule smartassist:offered_load_erlangs:rate5m): the average number of agents busy with this work.',
      targets: [{ expr: `sum by (queue) (smartassist:offered_load_erlangs:rate5m{${fq}})`, legend: '{{queue}}' }],
    }))
    .withPanel(timeseries({
      title: 'Agents available + busy by queue (live)', unit: 'none',
      description: 'Staffed agents per queue now, from the live state (smartassist_queue_agents, status available or busy), to hold against the offered load: fewer staffed agents than Erlangs means the queue grows. An agent in two queues counts in both.',
      targets: [{ expr: `sum by (queue) (smartassist_queue_agents{${sel(['queue'], 'status=~"available|busy"')}})`, legend: '{{queue}}' }],
    }))
    .withPanel(stat({
      title: 'Offered load now (Erlangs)', unit: 'none', width: 6,
      description: 'Total offered load over the selected queues: sum of arrivals per second x AHT per queue.',
      targets: [{ expr: `sum(smartassist:offered_load_erlangs:rate5m{${fq}})` }],
    }))
    .withPanel(stat({
      title: 'Arrivals in range', unit: 'short', width: 6,
      description: 'Queue entries over the selected time range.',
      targets: [{ expr: `sum(increase(smartassist_queue_entries_total{${fq}}[${RANGE}]))` }],
    }))
    .withPanel(timeseries({
      title: 'AHT trend by channel', unit: 's',
      description: 'Average handle time per agent segment over the last hour, by channel.',
      targets: [{ expr: `sum by (channel) (rate(smartassist_handle_seconds_sum{${fq}}[1h])) / sum by (channel) (rate(smartassist_handle_seconds_count{${fq}}[1h]))`, legend: '{{channel}}' }],
    }))
    .withPanel(timeseries({
      title: 'Conversation length p50 / p90 by channel', unit: 's',
      description: 'Quantiles of session length (sessionEndTime - sessionStartTime) of finished conversations.',
      targets: [
        { expr: `histogram_quantile(0.5, sum by (le, channel) (rate(smartassist_conversation_duration_seconds_bucket{${f}}[${R}])))`, legend: '{{channel}} p50' },
        { expr: `histogram_quantile(0.9, sum by (le, channel) (rate(smartassist_conversation_duration_seconds_bucket{${f}}[${R}])))`, legend: '{{channel}} p90' },
      ],
    }))
    .withPanel(timeseries({
      title: 'After-call work and hold per segment', unit: 's',
      description: 'Mean after-call work and mean hold (of segments with hold) per agent segment.',
      targets: [
        { expr: `sum(rate(smartassist_after_call_work_seconds_sum{${fq}}[${R}])) / sum(rate(smartassist_after_call_work_seconds_count{${fq}}[${R}]))`, legend: 'after-call work' },
        { expr: `sum(rate(smartassist_hold_seconds_sum{${fq}}[${R}])) / sum(rate(smartassist_hold_seconds_count{${fq}}[${R}]))`, legend: 'hold' },
        { expr: `sum(rate(smartassist_consult_seconds_sum{${fq}}[${R}])) / sum(rate(smartassist_consult_seconds_count{${fq}}[${R}]))`, legend: 'consult' },
      ],
    }))
    .withPanel(timeseries({
      title: 'Outbound campaign attempts per hour', unit: 'short', stacked: true,
      description: 'Outbound campaign calls per hour by campaign and contact status (campaigninfo).',
      targets: [{ expr: `sum by (campaign, contact_status) (rate(smartassist_campaign_attempts_total{job=~"$job", instance=~"$instance"}[${R}])) * 3600`, legend: '{{campaign}} {{contact_status}}' }],
    }))
    .withRow(row('Staffing plan: Erlang C / Erlang A per queue'))
    .withPanel(timeseries({
      title: 'Required vs staffed agents by queue', unit: 'short',
      description: 'Agents each queue needs to answer SMARTASSIST_SERVICE_LEVEL_TARGET of its contacts within SMARTASSIST_SERVICE_LEVEL_SECONDS at most SMARTASSIST_MAX_OCCUPANCY busy (Erlang A: callers hang up after their measured patience), and the agents staffed now (available + busy, from the live agent counts). The demand is that of the last capacity interval, which ends SMARTASSIST_CAPACITY_SETTLE before now.',
      targets: [
        { expr: `max by (queue) (smartassist_capacity_required_agents{${CQ}, model="erlang_a"})`, legend: '{{queue}} required' },
        { expr: `max by (queue) (smartassist_capacity_staffed_agents{${CQ}})`, legend: '{{queue}} staffed' },
      ],
    }))
    .withPanel(timeseries({
      title: 'Staffing gap by queue', unit: 'short',
      description: 'Required (Erlang A) minus staffed agents: above 0 the queue is understaffed by that many agents for its target, below 0 overstaffed. The SmartAssistStaffingGap alert fires after 30 minutes above 0.',
      targets: [{ expr: `max by (queue) (smartassist_capacity_staffing_gap{${CQ}, model="erlang_a"})`, legend: '{{queue}}' }],
    }))
    .withPanel(timeseries({
      title: 'Predicted vs measured service level by queue', unit: 'percentunit', min: 0, max: 1,
      description: 'Predicted: Erlang A service level with the agents staffed now for the traffic of the last capacity interval. Measured: share of queue entries counted over the last 30 minutes that were answered within $sl_threshold s (abandoned entries count as missed); set the variable to the exporter\'s SMARTASSIST_SERVICE_LEVEL_SECONDS (smartassist_capacity_service_level_seconds) so that both lines measure the same target. Measured entries are counted when they finish, so it trails the prediction.',
      targets: [
        { expr: `max by (queue) (smartassist_capacity_predicted_service_level{${CQ}, model="erlang_a"})`, legend: '{{queue}} predicted' },
        { expr: `sum by (queue) (rate(smartassist_queue_wait_seconds_bucket{${fq}, outcome="answered", le=~"$sl_threshold(.0)?"}[30m])) / sum by (queue) (rate(smartassist_queue_entries_total{${fq}}[30m]))`, legend: '{{queue}} measured' },
      ],
    }))
    .withPanel(timeseries({
      title: 'Required agents (Erlang A), this week vs the last 3 weeks', unit: 'short',
      description: 'Agents required over the selected queues, as half-hour averages (recording rule smartassist:capacity_required_agents:avg30m), against the same half hour of the week 1, 2 and 3 weeks earlier: what a planner uses to build next week\'s schedule. Schedule required / (1 - SMARTASSIST_SHRINKAGE).',
      targets: [
        { expr: `sum(smartassist:capacity_required_agents:avg30m{${CQ}, model="erlang_a"})`, legend: 'this week' },
        { expr: `sum(smartassist:capacity_required_agents:avg30m{${CQ}, model="erlang_a"} offset 1w)`, legend: '1 week ago' },
        { expr: `sum(smartassist:capacity_required_agents:avg30m{${CQ}, model="erlang_a"} offset 2w)`, legend: '2 weeks ago' },
        { expr: `sum(smartassist:capacity_required_agents:avg30m{${CQ}, model="erlang_a"} offset 3w)`, legend: '3 weeks ago' },
      ],
    }))
    .withPanel(bargauge({
      title: 'Agents to schedule now by queue (Erlang A / Erlang C)', unit: 'short',
      description: 'Required agents divided by (1 - SMARTASSIST_SHRINKAGE), rounded up: the agents to roster so that the required ones are available after breaks, training and absence. Erlang C assumes nobody hangs up and asks for more.',
      targets: [{ expr: `max by (queue, model) (smartassist_capacity_required_scheduled_agents{${CQ}})`, legend: '{{queue}} {{model}}' }],
    }))
    .withPanel(timeseries({
      title: 'Capacity inputs: contacts per half hour and offered load by queue', unit: 'short',
      description: 'The measured traffic the plan is computed from, per queue: queue entries per half hour (arrival_rate x 1800) and offered load in Erlangs (arrival rate x handle time), over the capacity interval.',
      targets: [
        { expr: `max by (queue) (smartassist_capacity_arrival_rate{${CQ}}) * 1800`, legend: '{{queue}} contacts / 30 min' },
        { expr: `max by (queue) (smartassist_capacity_offered_load_erlangs{${CQ}})`, legend: '{{queue}} Erlangs' },
      ],
    }))
    .withPanel(timeseries({
      title: 'Capacity inputs: handle time and caller patience by queue', unit: 's',
      description: 'Mean handle time (interaction + after-call work) of the answered entries and mean patience (time waited by all entries / abandons) over the capacity interval. Patience is absent where nobody abandoned.',
      targets: [
        { expr: `max by (queue) (smartassist_capacity_handle_seconds{${CQ}})`, legend: '{{queue}} handle' },
        { expr: `max by (queue) (smartassist_capacity_patience_seconds{${CQ}})`, legend: '{{queue}} patience' },
      ],
    }))
    .withPanel(stat({
      title: 'Queue entries counted late for the plan', unit: 'percentunit', width: 6,
      description: 'Share of queue entries counted after their entry time had entered the capacity interval (the interval undercounted them until then). Above a few per cent, conversations take longer than SMARTASSIST_CAPACITY_SETTLE to be counted: raise it. High right after a start (the backfill counts the past late).',
      targets: [{ expr: `sum(increase(smartassist_capacity_samples_total{job=~"$job", instance=~"$instance", result="late"}[${RANGE}])) / sum(increase(smartassist_capacity_samples_total{job=~"$job", instance=~"$instance", result=~"late|on_time"}[${RANGE}]))` }],
      thresholds: [[0, 'green'], [0.05, 'orange'], [0.2, 'red']],
    }));
}

function customerExperience(): DashboardBuilder {
  const f = sel(['channel']);
  return base('smartassist-cx', 'SmartAssist / Customer experience',
    'CSAT, NPS and like/dislike surveys of finished conversations.', ['channel'])
    .withPanel(bargauge({
      title: 'CSAT score distribution', unit: 'short', heatmapFormat: true, width: 8,
      description: 'Number of CSAT surveys with each score (1-5) over the time range, from the histogram buckets.',
      targets: [{ expr: `sum by (le) (increase(smartassist_csat_score_bucket{${f}}[${RANGE}]))`, legend: '{{le}}' }],
    }))
    .withPanel(bargauge({
      title: 'NPS score distribution', unit: 'short', heatmapFormat: true, width: 8,
      description: 'Number of NPS surveys with each score (0-10) over the time range, from the histogram buckets.',
      targets: [{ expr: `sum by (le) (increase(smartassist_nps_score_bucket{${f}}[${RANGE}]))`, legend: '{{le}}' }],
    }))
    .withPanel(stat({
      title: 'Like ratio', unit: 'percentunit', width: 8, height: 8,
      description: 'Likes / (likes + dislikes) over the time range.',
      targets: [{ expr: `sum(increase(smartassist_like_dislike_total{${f}, vote="like"}[${RANGE}])) / sum(increase(smartassist_like_dislike_total{${f}}[${RANGE}]))` }],
    }))
    .withPanel(timeseries({
      title: 'CSAT satisfied (4-5) by channel', unit: 'percentunit', min: 0, max: 1,
      description: 'Share of CSAT scores of 4-5 over the last hour (recording rule smartassist:csat_satisfied:ratio_rate1h).',
      targets: [{ expr: `avg by (channel) (smartassist:csat_satisfied:ratio_rate1h{${f}})`, legend: '{{channel}}' }],
    }))
    .withPanel(timeseries({
      title: 'NPS by channel', unit: 'none',
      description: 'NPS over the last hour in points (recording rule smartassist:nps:score_rate1h).',
      targets: [{ expr: `avg by (channel) (smartassist:nps:score_rate1h{${f}})`, legend: '{{channel}}' }],
    }))
    .withPanel(timeseries({
      title: 'NPS promoters, passives and detractors per hour', unit: 'short', stacked: true,
      description: 'Promoters (9-10) = count - bucket le=8; passives (7-8) = le=8 - le=6; detractors (0-6) = le=6; per hour.',
      targets: [
        { expr: `(sum(rate(smartassist_nps_score_count{${f}}[${R}])) - sum(rate(smartassist_nps_score_bucket{${f}, le=~"8(.0)?"}[${R}]))) * 3600`, legend: 'promoters' },
        { expr: `(sum(rate(smartassist_nps_score_bucket{${f}, le=~"8(.0)?"}[${R}])) - sum(rate(smartassist_nps_score_bucket{${f}, le=~"6(.0)?"}[${R}]))) * 3600`, legend: 'passives' },
        { expr: `sum(rate(smartassist_nps_score_bucket{${f}, le=~"6(.0)?"}[${R}])) * 3600`, legend: 'detractors' },
      ],
    }))
    .withPanel(timeseries({
      title: 'Likes and dislikes per hour', unit: 'short', stacked: true,
      description: 'Like/dislike survey votes per hour.',
      targets: [{ expr: `sum by (vote) (rate(smartassist_like_dislike_total{${f}}[${R}])) * 3600`, legend: '{{vote}}' }],
    }))
    .withPanel(timeseries({
      title: 'Surveys answered per hour by type', unit: 'short',
      description: 'Surveys per hour: CSAT, NPS and like/dislike.',
      targets: [
        { expr: `sum(rate(smartassist_csat_score_count{${f}}[${R}])) * 3600`, legend: 'CSAT' },
        { expr: `sum(rate(smartassist_nps_score_count{${f}}[${R}])) * 3600`, legend: 'NPS' },
        { expr: `sum(rate(smartassist_like_dislike_total{${f}}[${R}])) * 3600`, legend: 'like/dislike' },
      ],
    }));
}

function agents(): DashboardBuilder {
  const fa = sel(['agent']);
  return base('smartassist-agents', 'SmartAssist / Agents',
    'Per-agent offers, handled segments, handle and after-call work time. Needs SMARTASSIST_AGENT_METRICS=true; agent = agent id.',
    ['agent'])
    .withPanel(bargauge({
      title: 'Offers answered vs. not answered by agent', unit: 'short', height: 10,
      description: 'Offers per agent over the time range by outcome: answered, ignored, supervisor_reassigned, missed.',
      targets: [{ expr: `sum by (agent, outcome) (increase(smartassist_agent_offer_outcomes_total{${fa}}[${RANGE}]))`, legend: '{{agent}} {{outcome}}' }],
    }))
    .withPanel(bargauge({
      title: 'Handled segments by agent', unit: 'short', height: 10,
      description: 'Answered segments per agent over the time range.',
      targets: [{ expr: `sort_desc(sum by (agent) (increase(smartassist_agent_segments_total{${fa}}[${RANGE}])))`, legend: '{{agent}}' }],
    }))
    .withPanel(timeseries({
      title: 'Average handle time by agent', unit: 's',
      description: 'Handle seconds / handled segments per agent (interaction + after-call work).',
      targets: [{ expr: `sum by (agent) (rate(smartassist_agent_handle_seconds_total{${fa}}[${R}])) / sum by (agent) (rate(smartassist_agent_segments_total{${fa}}[${R}]))`, legend: '{{agent}}' }],
    }))
    .withPanel(timeseries({
      title: 'Average after-call work by agent', unit: 's',
      description: 'After-call work seconds / handled segments per agent.',
      targets: [{ expr: `sum by (agent) (rate(smartassist_agent_after_call_work_seconds_total{${fa}}[${R}])) / sum by (agent) (rate(smartassist_agent_segments_total{${fa}}[${R}]))`, legend: '{{agent}}' }],
    }))
    .withPanel(timeseries({
      title: 'Answer ratio by agent', unit: 'percentunit', min: 0, max: 1,
      description: 'Answered offers / all offers per agent.',
      targets: [{ expr: `sum by (agent) (rate(smartassist_agent_offer_outcomes_total{${fa}, outcome="answered"}[${R}])) / sum by (agent) (rate(smartassist_agent_offer_outcomes_total{${fa}}[${R}]))`, legend: '{{agent}}' }],
    }))
    .withPanel(timeseries({
      title: 'Busy agents (handle time per second)', unit: 'none', stacked: true,
      description: 'Handle seconds per second per agent: the share of the time each agent spends handling conversations.',
      targets: [{ expr: `sum by (agent) (rate(smartassist_agent_handle_seconds_total{${fa}}[${R}]))`, legend: '{{agent}}' }],
    }));
}

function exporterHealth(): DashboardBuilder {
  const f = sel([]);
  return base('smartassist-exporter', 'SmartAssist / Exporter health',
    'Is smartassist_exporter keeping up with the SmartAssist API: polls, requests, rate limits, records.', [])
    .withPanel(stat({
      title: 'Up', unit: 'none', width: 4,
      description: 'smartassist_up: 1 if the last poll read everything it asked for.',
      targets: [{ expr: `min(smartassist_up{${f}})` }],
      thresholds: [[0, 'red'], [1, 'green']],
    }))
    .withPanel(stat({
      title: 'Time since last successful poll', unit: 's', width: 4,
      description: 'time() - smartassist_exporter_last_success_timestamp_seconds (worst instance).',
      targets: [{ expr: `max(time() - smartassist_exporter_last_success_timestamp_seconds{${f}})` }],
    }))
    .withPanel(stat({
      title: 'Lag', unit: 's', width: 4,
      description: 'smartassist_exporter_lag_seconds: now - the time up to which every conversation start has been read.',
      targets: [{ expr: `max(smartassist_exporter_lag_seconds{${f}})` }],
    }))
    .withPanel(stat({
      title: 'API budget used', unit: 'percentunit', width: 4,
      description: 'Requests per minute sent / SMARTASSIST_API_RATE_LIMIT.',
      targets: [{ expr: `sum(rate(smartassist_exporter_api_requests_total{${f}}[${R}])) * 60 / sum(smartassist_exporter_api_budget_requests_per_minute{${f}})` }],
    }))
    .withPanel(stat({
      title: 'Rate-limited (429) in range', unit: 'short', width: 4,
      description: 'Requests the SmartAssist API answered with 429 over the time range.',
      targets: [{ expr: `sum(increase(smartassist_exporter_api_requests_total{${f}, code="429"}[${RANGE}])) or vector(0)` }],
    }))
    .withPanel(stat({
      title: 'Window splits in range', unit: 'short', width: 4,
      description: 'Query windows split because they held more than 1100 records.',
      targets: [{ expr: `sum(increase(smartassist_exporter_window_splits_total{${f}}[${RANGE}]))` }],
    }))
    .withPanel(timeseries({
      title: 'API requests per minute by status', unit: 'short', stacked: true,
      description: 'Requests sent to the SmartAssist API per minute by HTTP status ("error": no response).',
      targets: [{ expr: `sum by (code) (rate(smartassist_exporter_api_requests_total{${f}}[${R}])) * 60`, legend: '{{code}}' }],
    }))
    .withPanel(timeseries({
      title: 'Records read per minute by result', unit: 'short', stacked: true,
      description: 'Records read per minute: counted (new), duplicate (re-read), open, invalid, expired.',
      targets: [{ expr: `sum by (result) (rate(smartassist_exporter_records_total{${f}}[${R}])) * 60`, legend: '{{result}}' }],
    }))
    .withPanel(timeseries({
      title: 'Poll duration p50 / p90 by scan', unit: 's',
      description: 'Duration of polls, recent-window and full-lookback scans separately.',
      targets: [
        { expr: `histogram_quantile(0.5, sum by (le, scan) (rate(smartassist_exporter_poll_duration_seconds_bucket{${f}}[${R}])))`, legend: '{{scan}} p50' },
        { expr: `histogram_quantile(0.9, sum by (le, scan) (rate(smartassist_exporter_poll_duration_seconds_bucket{${f}}[${R}])))`, legend: '{{scan}} p90' },
      ],
    }))
    .withPanel(timeseries({
      title: 'Lag and rate-limit wait', unit: 's',
      description: 'Lag; and seconds per second spent waiting for the exporter\'s own API budget.',
      targets: [
        { expr: `max(smartassist_exporter_lag_seconds{${f}})`, legend: 'lag' },
        { expr: `sum(rate(smartassist_exporter_rate_limit_wait_seconds_total{${f}}[${R}]))`, legend: 'budget wait (s/s)' },
      ],
    }))
    .withPanel(timeseries({
      title: 'Invalid records and values', unit: 'short',
      description: 'Records skipped by reason, and values not observed by field and reason, per minute.',
      targets: [
        { expr: `sum by (reason) (rate(smartassist_exporter_invalid_records_total{${f}}[${R}])) * 60`, legend: 'record: {{reason}}' },
        { expr: `sum by (field, reason) (rate(smartassist_exporter_invalid_values_total{${f}}[${R}])) * 60`, legend: 'value: {{field}} {{reason}}' },
      ],
    }))
    .withPanel(timeseries({
      title: 'State entries', unit: 'short',
      description: 'Conversations remembered in the state file: counted (for dedupe) and open (awaiting their end).',
      targets: [{ expr: `sum by (kind) (smartassist_exporter_state_entries{${f}})`, legend: '{{kind}}' }],
    }));
}

// live is the wallboard of the live queue and agent state (issue 10): what
// waits now, for how long, and who is there to answer.
function live(): DashboardBuilder {
  const q = sel(['queue']);
  return base('smartassist-live', 'SmartAssist / Live',
    'Wallboard of the present: contacts waiting per queue, the longest wait, overdue contacts and agents by status, read every SMARTASSIST_LIVE_INTERVAL from the Queue Performance (or Queue Size) API.',
    ['queue'])
    .refresh('15s')
    .time({ from: 'now-1h', to: 'now' })
    .withRow(row('Now'))
    .withPanel(stat({
      title: 'Waiting now', unit: 'short', width: 6,
      description: 'Contacts waiting in each queue now, over its channels and directions (smartassist_queue_waiting).',
      targets: [{ expr: `sum by (queue) (smartassist_queue_waiting{${q}})`, legend: '{{queue}}' }],
      thresholds: [[0, 'green'], [1, 'orange'], [10, 'red']],
    }))
    .withPanel(stat({
      title: 'Agents available', unit: 'short', width: 6,
      description: 'Agents of each queue in status available now (smartassist_queue_agents). Red: nobody to take the next contact.',
      targets: [{ expr: `sum by (queue) (smartassist_queue_agents{${q}, status="available"})`, legend: '{{queue}}' }],
      thresholds: [[0, 'red'], [1, 'green']],
    }))
    .withPanel(stat({
      title: 'Overdue now', unit: 'short', width: 6,
      description: 'Contacts waiting past their queue\'s threshold now (smartassist_queue_overdue; Queue Performance source).',
      targets: [{ expr: `sum by (queue) (smartassist_queue_overdue{${q}})`, legend: '{{queue}}' }],
      thresholds: [[0, 'green'], [1, 'red']],
    }))
    .withPanel(stat({
      title: 'Longest wait now', unit: 's', width: 6,
      description: 'How long the longest-waiting contact of each queue has waited (smartassist_queue_longest_wait_seconds; Queue Size source only, empty with Queue Performance).',
      targets: [{ expr: `max by (queue) (smartassist_queue_longest_wait_seconds{${q}})`, legend: '{{queue}}' }],
      thresholds: [[0, 'green'], [60, 'orange'], [300, 'red']],
    }))
    .withRow(row('Over time'))
    .withPanel(timeseries({
      title: 'Waiting by queue', unit: 'short', min: 0,
      description: 'Contacts waiting in each queue, as read at every live poll.',
      targets: [{ expr: `sum by (queue) (smartassist_queue_waiting{${q}})`, legend: '{{queue}}' }],
    }))
    .withPanel(timeseries({
      title: 'Longest wait by queue', unit: 's', min: 0,
      description: 'The longest current wait per queue (Queue Size maxWait, converted from milliseconds).',
      targets: [{ expr: `max by (queue) (smartassist_queue_longest_wait_seconds{${q}})`, legend: '{{queue}}' }],
    }))
    .withPanel(timeseries({
      title: 'Agents by status', unit: 'short', stacked: true, min: 0,
      description: 'Agents by status (available, busy, away, offline), summed over the selected queues: an agent who serves two queues counts twice. Pick one queue for its own staffing.',
      targets: [{ expr: `sum by (status) (smartassist_queue_agents{${q}})`, legend: '{{status}}' }],
    }))
    .withPanel(timeseries({
      title: 'Overdue by queue and channel', unit: 'short', min: 0,
      description: 'Contacts waiting past their queue\'s threshold, by queue and the live API\'s channel (Voice, rtm, emailInst-support, ...).',
      targets: [{ expr: `sum by (queue, channel) (smartassist_queue_overdue{${q}})`, legend: '{{queue}} {{channel}}' }],
    }))
    .withPanel(timeseries({
      title: 'In progress by queue', unit: 'short', min: 0,
      description: 'Conversations of each queue with an agent now (smartassist_queue_ongoing).',
      targets: [{ expr: `sum by (queue) (smartassist_queue_ongoing{${q}})`, legend: '{{queue}}' }],
    }))
    .withPanel(timeseries({
      title: 'Queue load by queue', unit: 'short', min: 0,
      description: 'The platform\'s live queue load (queueLoad of Queue Performance), per queue.',
      targets: [{ expr: `sum by (queue) (smartassist_queue_load{${q}})`, legend: '{{queue}}' }],
    }))
    .withRow(row('Live source'))
    .withPanel(stat({
      title: 'Live polls up', unit: 'none', width: 6,
      description: '1 when the last live poll succeeded (smartassist_live_up); 0: the gauges above go blank after a few intervals.',
      targets: [{ expr: `min(smartassist_live_up{job=~"$job", instance=~"$instance"})` }],
      thresholds: [[0, 'red'], [1, 'green']],
    }))
    .withPanel(stat({
      title: 'Oldest live reading', unit: 's', width: 6,
      description: 'Age of the oldest reading shown (smartassist_exporter_live_data_age_seconds): with Queue Size and many queues, queues are read in turn.',
      targets: [{ expr: `max(smartassist_exporter_live_data_age_seconds{job=~"$job", instance=~"$instance"})` }],
    }))
    .withPanel(timeseries({
      title: 'Live requests per minute by endpoint', unit: 'reqpm', width: 12,
      description: 'Requests the live collector sends (Queue Performance, Queue Size, queues list), per minute: its share of the account\'s API budget.',
      targets: [{ expr: `sum by (endpoint) (rate(smartassist_exporter_api_requests_total{job=~"$job", instance=~"$instance", endpoint=~"queue_performance|queue_size|queues"}[${R}])) * 60`, legend: '{{endpoint}}' }],
    }));
}

// Every dashboard, by the file name it is written to.
export const all: Record<string, () => DashboardBuilder> = {
  'overview.json': overview,
  'queues.json': queues,
  'capacity.json': capacity,
  'customer-experience.json': customerExperience,
  'agents.json': agents,
  'exporter.json': exporterHealth,
  'live.json': live,
};
