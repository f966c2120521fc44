import { EventfoldError, InvalidInputError } from '../core/errors.js'
import { type ProcessingBackend, processingOf } from '../core/internal.js'
import type { ProcessorOptions } from './types.js'

/** Checks what a processor is given and finds the store's processing backend. */
export function backendOf(options: ProcessorOptions): ProcessingBackend {
  if (typeof options?.name !== 'string' || options.name === '' || options.name.length > 200) {
    throw new InvalidInputError('INVALID_ARGUMENT', 'name must be a non-empty string of at most 200 characters', 'name')
  }
  if ((options.handler === undefined) === (options.handleBatch === undefined)) {
    throw new InvalidInputError('INVALID_ARGUMENT', 'give exactly one of handler and handleBatch', 'handler')
  }
  if (options.onFailure !== undefined && options.onFailure !== 'park' && options.onFailure !== 'stop') {
    throw new InvalidInputError('INVALID_ARGUMENT', `onFailure must be 'park' or 'stop'`, 'onFailure')
  }
  const backend = processingOf(options.store)
  if (backend === undefined) {
    throw new EventfoldError('PROCESSING_UNSUPPORTED', 'This event store keeps no processor checkpoints')
  }
  return backend
}
