// The schema check must be able to fail: these dashboards are wrong, and
// tsc fails the check if it stops rejecting them, because an expected
// error that does not occur is itself an error.
import type { Dashboard } from '@grafana/schema';

type Json<T> = T extends string ? `${T}` : T extends (infer U)[] ? Json<U>[] : T extends object ? { [K in keyof T]: Json<T[K]> } : T;

// @ts-expect-error: a field Grafana does not know.
export const unknownField: Json<Dashboard> = { title: 'x', schemaVersion: 42, colour: 'red' };

export const badThreshold: Json<Dashboard> = {
  title: 'x',
  schemaVersion: 42,
  panels: [{
    type: 'stat',
    // @ts-expect-error: not a thresholds mode.
    fieldConfig: { defaults: { thresholds: { mode: 'relative', steps: [] } }, overrides: [] },
  }],
};
