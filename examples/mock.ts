/**
 * The README's MockAgent block, verbatim between the markers (test/adoption/load.test.ts checks
 * that it is), type-checked under --strict by `npm run typecheck`.
 */

// README ─────────────────────────────────────────────────────────────────────────────────
import { MockAgent } from 'wirepool/mock'
import { request, setDefaultAgent } from 'wirepool'

const mock = new MockAgent()
mock.disableNetConnect()
mock.get('https://api.test').intercept({ path: '/users/1' }).reply(200, { id: 1, name: 'Ada' })
setDefaultAgent(mock)

const res = await request('https://api.test/users/1')
await res.body.json()                // { id: 1, name: 'Ada' }
mock.assertNoPendingInterceptors()
// ─────────────────────────────────────────────────────────────────────────────── README
