import type { UpcasterCheckResult, UpcasterReport } from '../schema/check-upcasters.js'
import type { CompatibilityIssue, CompatibilityReport, EventCompatibility } from '../schema/compatibility.js'

const mark = (ok: boolean) => (ok ? '✓' : '✗')

function describeEvent(event: EventCompatibility): string {
  switch (event.status) {
    case 'new':
      return `v${event.currentVersion}  new`
    case 'unchanged':
      return `v${event.currentVersion}  unchanged`
    case 'evolved':
      return event.mode === 'NONE'
        ? `v${event.currentVersion}  after v${event.publishedVersion}, not compared (mode NONE)`
        : `v${event.currentVersion}  compatible with v${event.publishedVersion} (${event.mode})`
    case 'retired':
      return `retired at v${event.currentVersion}`
    case 'removed':
      return 'removed'
    default:
      return `v${event.currentVersion ?? '?'}  against published v${event.publishedVersion ?? '?'} (${event.mode})`
  }
}

function describeIssue(issue: CompatibilityIssue): string {
  const direction =
    issue.direction === 'backward'
      ? `v${issue.currentVersion} reading v${issue.againstVersion} events`
      : issue.direction === 'forward'
        ? `v${issue.againstVersion} readers of v${issue.currentVersion} events`
        : undefined
  return `      ${issue.kind}${direction === undefined ? '' : ` (${direction})`}: ${issue.message}`
}

export function formatCompatibility(report: CompatibilityReport): string[] {
  const lines = [`Compatibility (${report.mode})`]
  if (report.events.length === 0) lines.push('  (no event types)')
  const width = Math.max(0, ...report.events.map((e) => e.event.length))
  for (const event of report.events) {
    const issues = report.issues.filter((i) => i.event === event.event)
    lines.push(`  ${mark(issues.length === 0)} ${event.event.padEnd(width)}  ${describeEvent(event)}`)
    lines.push(...issues.map(describeIssue))
  }
  return lines
}

const short = (value: unknown) => {
  const text = JSON.stringify(value)
  return text === undefined ? 'undefined' : text.length > 200 ? `${text.slice(0, 200)}…` : text
}

export function formatUpcasterResult(result: UpcasterCheckResult): string[] {
  const name = `${result.event} v${result.fromVersion} → ${result.into.join(' + ')}`
  if (result.status === 'skipped') return [`  - ${name}: not checked, ${result.reason}`]
  if (result.status === 'passed') return [`  ✓ ${name}: ${result.runs} samples`]
  return [
    `  ✗ ${name}: ${result.reason}`,
    `      stored payload: ${short(result.counterexample)}`,
    ...(result.upcast === undefined ? [] : [`      read as:        ${short(result.upcast)}`]),
    `      seed ${result.seed} (rerun with --seed ${result.seed})`,
  ]
}

export function formatUpcasters(report: UpcasterReport): string[] {
  const lines = ['Upcasters']
  if (report.results.length === 0) lines.push('  (no older versions)')
  for (const result of report.results) lines.push(...formatUpcasterResult(result))
  return lines
}

export function formatSummary(compatibility: CompatibilityReport, upcasters: UpcasterReport): string {
  const failed = upcasters.results.filter((r) => r.status === 'failed').length
  const problems = compatibility.issues.length
  const verdict = problems === 0 && failed === 0 ? 'OK' : 'FAILED'
  return `${problems} incompatibilit${problems === 1 ? 'y' : 'ies'}, ${failed} failing upcaster chain${failed === 1 ? '' : 's'}: ${verdict}`
}
