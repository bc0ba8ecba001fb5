// A metric in a table cell of the page (History's runs, an experiment's runs, the update grid's totals): a few
// significant digits, "—" when the run has no value (not measured, or not finite).

export function metricText(v: unknown, digits = 3): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toPrecision(digits) : '—'
}
