/** Resolves true after `ms`, or false as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false)
    const timer = setTimeout(() => resolve(true), ms)
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        resolve(false)
      },
      { once: true },
    )
  })
}

/** True if `work` settles within `timeoutMs`; it goes on either way. */
export async function settledWithin(work: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs)
  })
  const result = await Promise.race([work.then(() => true), late])
  clearTimeout(timer)
  return result
}

/**
 * Runs `work` every `intervalMs`, until `signal` aborts: each run starts `intervalMs` after the
 * last one settled, so two never overlap, and a failed run (reported to `onError`) does not stop
 * the next. For a member's heartbeat, whose renewals must go on whatever one of them met.
 */
export function repeatUntilAborted(
  intervalMs: number,
  signal: AbortSignal,
  work: () => Promise<void>,
  onError: (error: Error) => void,
): void {
  let timer: NodeJS.Timeout | undefined
  signal.addEventListener('abort', () => clearTimeout(timer), { once: true })
  const next = () => {
    timer = setTimeout(() => {
      work()
        .catch(onError)
        .finally(() => {
          if (!signal.aborted) next()
        })
    }, intervalMs)
  }
  if (!signal.aborted) next()
}
