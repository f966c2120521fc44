import { StoreUnavailableError } from '../core/internal.js'

// Socket-level failures: the server is down, restarting, or the network dropped us.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
])
// admin_shutdown, crash_shutdown, cannot_connect_now: the server ended or refused our session.
const SHUTDOWN_STATES = new Set(['57P01', '57P02', '57P03'])
// node-postgres reports a dropped or unusable connection with these messages and no code.
const DRIVER_MESSAGES = [
  'Connection terminated',
  'connection timeout',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Client was closed and is not queryable',
]

/** True when the error means the database could not be reached, not that the query was wrong. */
export function isConnectionError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  const { code, message } = error as { code?: unknown; message?: unknown }
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || SHUTDOWN_STATES.has(code) || code.startsWith('08'))) return true
  return typeof message === 'string' && DRIVER_MESSAGES.some((text) => message.includes(text))
}

/**
 * Maps a driver error to what the store throws. A lost connection becomes STORE_UNAVAILABLE: the
 * caller must not take it as a failure either (an append may have committed). No other SQLSTATE
 * matches an eventfold code, so everything else passes through untouched.
 */
export function toStoreError(error: unknown): unknown {
  if (!isConnectionError(error)) return error
  const detail = error instanceof Error ? error.message : String(error)
  return new StoreUnavailableError(`PostgreSQL is unavailable: ${detail}`, error)
}
