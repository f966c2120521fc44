import { EventfoldError, errorSummary } from './errors.js'

/** Another member took the partition over (this one's lease ran out): its work was rolled back. */
export const leaseLost = (processor: string, partition: number) =>
  new EventfoldError('LEASE_LOST', `Processor '${processor}' no longer holds partition ${partition}`)

export const processorRunning = (processor: string) =>
  new EventfoldError('PROCESSOR_RUNNING', `Processor '${processor}' is running elsewhere: stop every instance first`)

export const partitionCountMismatch = (processor: string, stored: number, asked: number) =>
  new EventfoldError(
    'PROCESSOR_CONFIG_MISMATCH',
    `Processor '${processor}' was created with ${stored} partitions, not ${asked}: the count cannot change while checkpoints exist (reset or rename it)`,
  )

/** A handler's failure, kept as JSON text with a parked event. */
export const describeError = (error: unknown): string => JSON.stringify(errorSummary(error))
