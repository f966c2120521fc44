import { describe, expect, it } from 'vitest'
import type { EventData } from '../../src/index.js'
import { collect, failure } from './helpers.js'
import type { SuiteContext } from './suite.js'

const cyclic: Record<string, unknown> = { a: 1 }
cyclic.self = cyclic

type Case = [name: string, streamId: unknown, events: unknown, options: unknown, code: string]

const ok = [{ type: 'T', data: {} }]
const cases: Case[] = [
  ['an empty stream id', '', ok, {}, 'INVALID_STREAM_ID'],
  ['a stream id of 201 characters', 's'.repeat(201), ok, {}, 'INVALID_STREAM_ID'],
  ['a stream id with a NUL', 'a\u0000b', ok, {}, 'INVALID_STREAM_ID'],
  ['a stream id with a newline', 'a\nb', ok, {}, 'INVALID_STREAM_ID'],
  ['a stream id with an escape character', 'a\u001b[31m', ok, {}, 'INVALID_STREAM_ID'],
  ['a stream id with a lone surrogate', 'a\ud800', ok, {}, 'INVALID_STREAM_ID'],
  ['a stream id that is not a string', 42, ok, {}, 'INVALID_STREAM_ID'],
  ['an empty type', 's', [{ type: '', data: 1 }], {}, 'INVALID_EVENT_TYPE'],
  ['a type that is not a string', 's', [{ type: 7, data: 1 }], {}, 'INVALID_EVENT_TYPE'],
  ['a missing type', 's', [{ data: 1 }], {}, 'INVALID_EVENT_TYPE'],
  ['a BigInt in data', 's', [{ type: 'T', data: { n: 1n } }], {}, 'INVALID_EVENT_DATA'],
  ['a cycle in data', 's', [{ type: 'T', data: cyclic }], {}, 'INVALID_EVENT_DATA'],
  ['a function in data', 's', [{ type: 'T', data: { f() {} } }], {}, 'INVALID_EVENT_DATA'],
  ['undefined data', 's', [{ type: 'T', data: undefined }], {}, 'INVALID_EVENT_DATA'],
  ['undefined inside an array', 's', [{ type: 'T', data: [1, undefined] }], {}, 'INVALID_EVENT_DATA'],
  ['NaN in data', 's', [{ type: 'T', data: { x: Number.NaN } }], {}, 'INVALID_EVENT_DATA'],
  ['a Date in data', 's', [{ type: 'T', data: { at: new Date() } }], {}, 'INVALID_EVENT_DATA'],
  ['a Map in data', 's', [{ type: 'T', data: new Map() }], {}, 'INVALID_EVENT_DATA'],
  ['metadata that is an array', 's', [{ type: 'T', data: 1, metadata: [] }], {}, 'INVALID_METADATA'],
  ['a non-string correlationId', 's', [{ type: 'T', data: 1, metadata: { correlationId: 5 } }], {}, 'INVALID_METADATA'],
  ['an id that is not a UUID', 's', [{ type: 'T', data: 1, id: "1'; drop table events; --" }], {}, 'INVALID_EVENT_ID'],
  ['events that are not an array', 's', { type: 'T', data: 1 }, {}, 'INVALID_ARGUMENT'],
  ['no events', 's', [], {}, 'INVALID_ARGUMENT'],
  ['a null event', 's', [null], {}, 'INVALID_ARGUMENT'],
  ['a number as expected revision', 's', ok, { expectedRevision: 0 }, 'INVALID_EXPECTED_REVISION'],
  ['a negative expected revision', 's', ok, { expectedRevision: -1n }, 'INVALID_EXPECTED_REVISION'],
  ['an unknown expected revision', 's', ok, { expectedRevision: 'latest' }, 'INVALID_EXPECTED_REVISION'],
]

export function badInputSuite({ store }: SuiteContext) {
  describe('bad input', () => {
    for (const [name, streamId, events, options, code] of cases) {
      it(`refuses ${name} with ${code}, writing nothing`, async () => {
        await store().appendToStream('existing', [{ type: 'Before', data: 1 }])
        const error = await failure(() => store().appendToStream(streamId as string, events as EventData[], options as never))
        expect(error.code).toBe(code)
        expect(error).toBeInstanceOf(Error)
        expect(typeof error.message).toBe('string')
        expect((await collect(store().readAll())).map((e) => e.type)).toEqual(['Before'])
      })
    }

    it('stores hostile but valid stream ids and types as plain values', async () => {
      const hostile = [`x'); DROP TABLE events; --`, 'a"b', '$1', '%_', 'ünïcødé ☃', 's'.repeat(200)]
      for (const id of hostile) await store().appendToStream(id, [{ type: id, data: id }])
      const all = await collect(store().readAll())
      expect(all.map((e) => [e.streamId, e.type, e.data])).toEqual(hostile.map((id) => [id, id, id]))
      for (const id of hostile) expect((await collect(store().readStream(id))).map((e) => e.data)).toEqual([id])
    })

    it('refuses bad read, delete and subscribe arguments with codes', async () => {
      const s = store()
      expect((await failure(() => collect(s.readStream('')))).code).toBe('INVALID_STREAM_ID')
      expect((await failure(() => collect(s.readStream('s', { maxCount: -1 })))).code).toBe('INVALID_ARGUMENT')
      expect((await failure(() => collect(s.readStream('s', { fromRevision: 1 as never })))).code).toBe('INVALID_ARGUMENT')
      expect((await failure(() => collect(s.readAll({ after: -5n })))).code).toBe('INVALID_ARGUMENT')
      expect((await failure(() => collect(s.readAll({ filter: { eventTypes: 'T' as never } })))).code).toBe('INVALID_ARGUMENT')
      expect((await failure(s.deleteStream('s', { mode: 'purge' as never }))).code).toBe('INVALID_ARGUMENT')
      expect((await failure(s.deleteStream('s', { expectedRevision: 1 as never }))).code).toBe('INVALID_EXPECTED_REVISION')
      expect((await failure(() => s.subscribeToAll({ from: 'now' as never, handler() {} }))).code).toBe('INVALID_ARGUMENT')
      expect((await failure(() => s.subscribeToStream('a\nb', { handler() {} }))).code).toBe('INVALID_STREAM_ID')
      const upTo = { upTo: { revision: 1 } as never, initialState: () => 0, evolve: (n: number) => n }
      expect((await failure(s.aggregateStream('s', upTo))).code).toBe('INVALID_ARGUMENT')
    })
  })
}
