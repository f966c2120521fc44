import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

export const AMQP_BASE = process.env.EVENTFOLD_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'

/** rabbitmqctl talks to the local node: the tests need the broker on this machine, as CI has it. */
async function rabbitmqctl(...args: string[]): Promise<void> {
  await run('rabbitmqctl', ['-q', ...args], { timeout: 60_000 })
}

/** A vhost of its own for one test file: nothing it declares can meet another file's names. */
export async function createVhost(name: string): Promise<string> {
  await rabbitmqctl('add_vhost', name)
  await rabbitmqctl('set_permissions', '-p', name, 'guest', '.*', '.*', '.*')
  return `${AMQP_BASE}/${encodeURIComponent(name)}`
}

export async function deleteVhost(name: string): Promise<void> {
  await rabbitmqctl('delete_vhost', name)
}

/** Closes every client connection to the vhost from the server side, as an operator or a failover would. */
export async function closeConnections(vhost: string): Promise<void> {
  await rabbitmqctl('close_all_connections', '-p', vhost, 'eventfold test: server-side close')
}
