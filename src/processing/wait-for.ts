import { EventfoldError } from '../core/errors.js'

export interface WaitSpec {
  position: bigint
  timeoutMs: number
  /** Checkpoints known here without a query, when this instance holds every partition. */
  local: () => bigint[] | undefined
  /** Every partition's stored checkpoint, when others hold some of them. */
  stored: () => Promise<bigint[]>
  /** Wake-ups on this instance's progress. */
  progress: Set<() => void>
  processor: string
}

const STORED_POLL_MS = 50

/**
 * Read-your-writes: resolves once every partition is past `position`. Local progress wakes it at
 * once; partitions held by other processes are looked up in the database every 50 ms.
 */
export async function waitForCheckpoints(spec: WaitSpec): Promise<void> {
  const deadline = Date.now() + spec.timeoutMs
  const reached = (positions: bigint[]) => positions.every((p) => p >= spec.position)
  for (;;) {
    const local = spec.local()
    if (local !== undefined ? reached(local) : reached(await spec.stored())) return
    const left = deadline - Date.now()
    if (left <= 0) {
      throw new EventfoldError(
        'WAIT_TIMEOUT',
        `Processor '${spec.processor}' did not reach position ${spec.position} within ${spec.timeoutMs} ms`,
      )
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        spec.progress.delete(done)
        resolve()
      }
      const timer = setTimeout(done, local !== undefined ? left : Math.min(left, STORED_POLL_MS))
      spec.progress.add(done)
    })
  }
}
